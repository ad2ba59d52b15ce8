package faultfs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveEnv, set in a child test process, makes ForTest serve the file
// system there: "dir|mnt".
const serveEnv = "FAULTFS_SERVE"

// Server is a faultfs mounted by a child process, driven by a test.
//
// The file system runs in its own process because a Go process that both
// serves a FUSE mount and maps a file on it can deadlock: a goroutine
// faulting on a mapped page blocks in the kernel until the server answers,
// and a garbage collection that stops the world waits for that goroutine.
type Server struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// ForTest mounts a new faultfs under t.TempDir(), served by a child
// process (a copy of the test binary running the same test), and returns
// it with its mount point; the mount goes at the end of the test. Where it
// cannot mount (not root, no /dev/fuse) the test fails when the CI variable
// is set and is skipped otherwise, saying why.
func ForTest(t testing.TB) (*Server, string) {
	t.Helper()
	if spec := os.Getenv(serveEnv); spec != "" {
		serve(spec)
		os.Exit(0)
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	why := ""
	var s *Server
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "no /dev/fuse"
	} else if s, err = start(t, filepath.Join(dir, "backing"), mnt); err != nil {
		why = err.Error()
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("faultfs cannot mount a FUSE file system (%s), and CI is set", why)
		}
		t.Skipf("faultfs cannot mount a FUSE file system (%s): power-cut and disk-fault tests need root and /dev/fuse", why)
	}
	t.Cleanup(func() {
		if _, err := s.do("quit"); err != nil {
			t.Errorf("stop faultfs: %v", err)
		}
		s.in.Close()
		s.cmd.Wait()
	})
	return s, mnt
}

func start(t testing.TB, dir, mnt string) (*Server, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+strings.Split(t.Name(), "/")[0]+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir+"|"+mnt)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, in: in, out: bufio.NewReader(out)}
	if _, err := s.reply(); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return s, nil
}

func (s *Server) reply() (string, error) {
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("faultfs server: %w", err)
		}
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "faultfs ok"):
			return strings.TrimSpace(strings.TrimPrefix(line, "faultfs ok")), nil
		case strings.HasPrefix(line, "faultfs error "):
			return "", fmt.Errorf("faultfs server: %s", strings.TrimPrefix(line, "faultfs error "))
		}
	}
}

func (s *Server) do(cmd string) (string, error) {
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		return "", fmt.Errorf("faultfs server: %w", err)
	}
	return s.reply()
}

// Cut cuts the power (unmount, drop all that was not durable) and mounts
// again. Every file on the mount must be closed: kill the workload first.
func (s *Server) Cut(t testing.TB) {
	t.Helper()
	if _, err := s.do("cut"); err != nil {
		t.Fatalf("power cut: %v", err)
	}
}

// Fault makes op fail with errno on every path under prefix (relative to
// the mount; "" for all) until Fault is called again for op with errno 0.
func (s *Server) Fault(t testing.TB, op Op, errno syscall.Errno, prefix string) {
	t.Helper()
	if _, err := s.do(fmt.Sprintf("fault %d %d %s", op, errno, prefix)); err != nil {
		t.Fatalf("set fault: %v", err)
	}
}

// serve runs in the child: it mounts, answers commands on stdin, and
// unmounts (as a power cut) on "quit" or end of input.
func serve(spec string) {
	dir, mnt, _ := strings.Cut(spec, "|")
	say := func(err error) {
		if err != nil {
			fmt.Printf("faultfs error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		fmt.Println("faultfs ok")
	}
	f, err := New(dir)
	if err == nil {
		err = f.Mount(mnt)
	}
	say(err)
	if err != nil {
		return
	}
	type rule struct {
		errno  syscall.Errno
		prefix string
	}
	faults := map[Op]rule{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "cut":
			err := f.PowerCut()
			if err == nil {
				err = f.Mount(mnt)
			}
			say(err)
		case "fault":
			op, _ := strconv.Atoi(fields[1])
			errno, _ := strconv.Atoi(fields[2])
			prefix := ""
			if len(fields) > 3 {
				prefix = fields[3]
			}
			if errno == 0 {
				delete(faults, Op(op))
			} else {
				faults[Op(op)] = rule{syscall.Errno(errno), prefix}
			}
			snapshot := make(map[Op]rule, len(faults))
			for k, v := range faults {
				snapshot[k] = v
			}
			f.SetFault(func(op Op, rel string) syscall.Errno {
				if r, ok := snapshot[op]; ok && strings.HasPrefix(rel, r.prefix) {
					return r.errno
				}
				return 0
			})
			say(nil)
		case "quit":
			say(stop(f, mnt))
			return
		default:
			say(fmt.Errorf("unknown command %q", fields[0]))
		}
	}
	stop(f, mnt)
}

// stop unmounts, waiting a while for files still open; a mount left busy
// is detached so the test's temporary folder can go.
func stop(f *FS, mnt string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = f.PowerCut(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Unmount(mnt, syscall.MNT_DETACH)
	return err
}

// RoundsEnv sets how many power-cut rounds a test runs, for long runs.
const RoundsEnv = "PIIVAULT_POWERCUT_ROUNDS"

// Rounds returns the number of power-cut rounds to run: RoundsEnv, else
// def. A value that is not a positive number fails the test.
func Rounds(t testing.TB, def int) int {
	t.Helper()
	s := os.Getenv(RoundsEnv)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", RoundsEnv, s)
	}
	return n
}
