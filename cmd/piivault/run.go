package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitForced  = 3
)

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// exitCode prints err as one line on stderr and returns the exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	// One line: the first line of the message, which names the reason.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	// The SDK's errors start with "piivault: " too; say it once.
	msg = strings.ReplaceAll(msg, "piivault: ", "")
	fmt.Fprintf(stderr, "piivault: %s\n", msg)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// command is one subcommand.
type command struct {
	name    string // "token create"
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what a command gets from its caller.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the sidecar (--dev for a local playground)", runServe},
		{"token create", "create a bearer token for a principal; prints it once, stores only its SHA-256", runTokenCreate},
		{"verify", "walk the event log's hash chain and report its head or the first break", runVerify},
		{"schema apply", "declare event-type PII schemas from a YAML file on a running sidecar", runSchemaApply},
		{"erase", "erase a subject on a running sidecar (dpo)", runErase},
		{"export", "write everything held about a subject to a file (dpo)", runExport},
		{"erasure status", "status and receipt of an erasure", runErasureStatus},
		{"erasure list", "list erasure requests, e.g. --overdue", runErasureList},
		{"erasure purge", "purge erased subjects from the vault now and complete their erasures (admin)", runErasurePurge},
		{"erasure verify-receipt", "check offline that a receipt was signed by the sidecar's key", runVerifyReceipt},
		{"hold place", "put a subject under legal hold: erasure is refused", runHold(true)},
		{"hold lift", "lift a subject's legal hold", runHold(false)},
		{"kek rotate", "new key-encryption key version; rewrap every stored data key under it", runKEKRotate},
		{"healthcheck", "exit 0 if a running sidecar answers GET /healthz (for container health checks)", runHealthcheck},
		{"version", "print the version", runVersion},
	}
}

// version is set at build time with -ldflags "-X main.version=...". Its
// default is the API version of internal/httpapi/openapi.json (info.version);
// TestVersionMatchesOpenAPI keeps the two equal.
var version = "1.0.0"

func runVersion(_ context.Context, e *env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(e.stdout, "usage: piivault version\n\nPrints the version.")
		return nil
	}
	fmt.Fprintln(e.stdout, "piivault", version)
	return nil
}

// run is the whole program: it dispatches args to a command.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		if len(args) == 0 {
			return usagef("no command given; see piivault --help")
		}
		return nil
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(ctx, e, args[len(words):])
		}
	}
	// A group word alone ("token") or an unknown sub-word.
	for _, c := range commands() {
		if group, _, ok := strings.Cut(c.name, " "); ok && args[0] == group {
			return usagef("unknown %s command %q; try: piivault %s --help", group, strings.Join(args[1:], " "), c.name)
		}
	}
	return usagef("unknown command %q; see piivault --help", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "piivault: an event log that keeps personal data in a vault, so a person can be forgotten.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: piivault <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-23s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `piivault <command> --help` for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 done, 1 failed, 2 a mistake on the command line,")
	fmt.Fprintln(w, "3 serve forced to stop by a second signal before its graceful stop ended.")
	fmt.Fprintln(w, "Start here: piivault serve --dev")
}

// newFlags returns a flag set that reports errors as usage errors and
// prints its help to stdout.
func newFlags(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("piivault "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "usage: piivault %s %s\n\n%s\n\nflags:\n", name, synopsis, about)
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Usage != "" {
				shown.Var(f.Value, f.Name, f.Usage)
			}
		})
		shown.SetOutput(e.stdout)
		shown.PrintDefaults()
	}
	return fs
}

// helpShowsOnly keeps the flags named in --help and hides the others (they
// are still accepted): a command that loads the server's configuration
// should not list every server flag as its own.
func helpShowsOnly(fs *flag.FlagSet, names ...string) {
	fs.VisitAll(func(f *flag.Flag) {
		if !slices.Contains(names, f.Name) {
			f.Usage = ""
		}
	})
}

// parse parses args; --help prints usage and returns errHelp. A mistake
// prints one line (the caller's exitCode), not the whole usage: the flag
// package would call Usage on every parse error.
func parse(fs *flag.FlagSet, args []string) error {
	printUsage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = printUsage
	if errors.Is(err, flag.ErrHelp) {
		printUsage()
		return errHelp
	}
	if err != nil {
		return usagef("%s: %v", strings.TrimPrefix(fs.Name(), "piivault "), err)
	}
	return nil
}

// errHelp ends a command after --help with exit code 0.
var errHelp = errors.New("help shown")

// helpOK turns errHelp into success.
func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// set returns the flags given on the command line, by name.
func set(fs *flag.FlagSet) map[string]string {
	m := map[string]string{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = f.Value.String() })
	return m
}

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
