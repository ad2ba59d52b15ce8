package eventlog

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
)

// TestDiskFaultWriteErr: WriteErr (what /readyz asks) is nil while appends
// are made durable, reports the failure once a group cannot be (EIO on
// fsync under the log's folder), and is nil again after the disk recovers
// and the next group commits. On the FUSE fault file system.
func TestDiskFaultWriteErr(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	f, mnt := faultfs.ForTest(t)
	l, err := Open(filepath.Join(mnt, "log"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	appendOne := func(i int) error {
		_, err := l.Append(ctx, "s-"+strconv.Itoa(i), Any, []EventData{{ID: uuid.New(), Type: "T", Data: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}})
		return err
	}
	for i := range 10 {
		if err := appendOne(i); err != nil {
			t.Fatalf("append before the fault: %v", err)
		}
	}
	if err := l.WriteErr(); err != nil {
		t.Fatalf("WriteErr on a healthy disk: %v", err)
	}
	f.Fault(t, faultfs.OpFsync, syscall.EIO, "log")
	failed := false
	for i := 10; i < 200 && !failed; i++ {
		failed = appendOne(i) != nil
	}
	if !failed {
		t.Fatal("190 appends on a failing disk all succeeded")
	}
	if err := l.WriteErr(); err == nil {
		t.Error("WriteErr after an append failed on the disk: nil, want the failure")
	} else {
		t.Logf("WriteErr while failing: %v", err)
	}
	f.Fault(t, faultfs.OpFsync, 0, "")
	recovered := false
	for i := 200; i < 300 && !recovered; i++ {
		recovered = appendOne(i) == nil
	}
	if !recovered {
		t.Fatal("no append succeeded after the disk recovered")
	}
	if err := l.WriteErr(); err != nil {
		t.Errorf("WriteErr after an append succeeded again: %v, want nil", err)
	}
}
