package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// TestKEKRotateEmbedded rotates the KEK of a stopped sidecar's vault and
// checks that the values still read afterwards.
func TestKEKRotateEmbedded(t *testing.T) {
	data := t.TempDir()
	root := "root-" + randHex(t, 8)
	env := []string{"PIIVAULT_DEV_ROOT_TOKEN=" + root}
	if _, e, code := runArgs(t, nil, "kek", "rotate", "--data", data); code != exitFailure || !strings.Contains(e, "no embedded vault") {
		t.Errorf("kek rotate on an empty folder: exit %d, %q", code, e)
	}
	s := start(t, &testenv.Buffer{}, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _ := sdk.New("http://"+s.addr, sdk.WithToken(root))
	if _, err := c.PutSchema(ctx, "Registered", sdk.Schema{Subject: "/id", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "c-1", sdk.NoStream, sdk.EventInput{Type: "Registered", Data: json.RawMessage(`{"id":"c1","email":"k@example.com"}`)}); err != nil {
		t.Fatal(err)
	}
	s.stop()
	before, _ := os.Stat(filepath.Join(data, "kek.key"))

	out := cli(t, nil, "kek", "rotate", "--data", data)
	if !strings.HasPrefix(out, "ok: new KEK version") {
		t.Errorf("kek rotate = %q", out)
	}
	after, _ := os.Stat(filepath.Join(data, "kek.key"))
	if after.Size() != before.Size()*2 {
		t.Errorf("KEK file %d bytes after rotation, %d before: want one more key", after.Size(), before.Size())
	}

	s = start(t, &testenv.Buffer{}, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	c, _ = sdk.New("http://"+s.addr, sdk.WithToken(root))
	evs, err := readStream(t, c, "c-1")
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != "k@example.com" {
		t.Errorf("read after rotation = %v, %v", evs, err)
	}
	s.stop()
}
