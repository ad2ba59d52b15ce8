package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
)

// TestDiskFaultWriteErr: WriteErr (what /readyz asks) is nil while Puts are
// made durable and reports the fsync failure once one is not (EIO on fsync
// under the vault's folder); the failure is sticky, so it stays after the
// disk recovers, until the store is reopened. KEKVersion reports the local
// key file's version. On the FUSE fault file system.
func TestDiskFaultWriteErr(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	f, mnt := faultfs.ForTest(t)
	kp, err := keys.OpenLocal(filepath.Join(t.TempDir(), "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(mnt, "vault"), kp, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, ok := s.KEKVersion(); !ok || v != 1 {
		t.Errorf("KEKVersion = %d, %v; want 1, true", v, ok)
	}
	ctx := context.Background()
	put := func(i int) error {
		_, err := s.Put(ctx, []vault.Entry{{Subject: fmt.Sprintf("s-%d", i), Class: "c", Value: vault.NewPII([]byte(`"v"`))}})
		return err
	}
	for i := range 10 {
		if err := put(i); err != nil {
			t.Fatalf("put before the fault: %v", err)
		}
	}
	if err := s.WriteErr(); err != nil {
		t.Fatalf("WriteErr on a healthy disk: %v", err)
	}
	f.Fault(t, faultfs.OpFsync, syscall.EIO, "vault")
	failed := false
	for i := 10; i < 200 && !failed; i++ {
		failed = put(i) != nil
	}
	if !failed {
		t.Fatal("190 puts on a failing disk all succeeded")
	}
	if err := s.WriteErr(); err == nil {
		t.Error("WriteErr after a put failed on the disk: nil, want the failure")
	}
	f.Fault(t, faultfs.OpFsync, 0, "")
	_ = put(300)
	if err := s.WriteErr(); err == nil {
		t.Error("WriteErr after the disk recovered: nil, want the sticky fsync failure until reopened")
	}
}
