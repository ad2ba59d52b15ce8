package policy

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
)

// bundleFiles extend the default policy with a rule driven by bundle data.
var bundleFiles = map[string]string{
	"/billing.rego": `package piivault.authz
field_grant contains {"effect": "reveal", "reason": "bundle: billing sees names"} if {
	input.action in read_actions
	"billing" in roles
	input.purpose == "billing"
	input.resource.class in data.piivault_extra.billing_classes
}
`,
	"/data.json": `{"piivault_extra": {"billing_classes": ["name"]}}`,
}

// writeTarGz writes files as a gzipped tar bundle.
func writeTarGz(t testing.TB, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, src := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(src)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBundle(t *testing.T) {
	ctx := context.Background()
	dirBundle := t.TempDir()
	for n, s := range bundleFiles {
		writeFile(t, filepath.Join(dirBundle, n), s)
	}
	tarBundle := filepath.Join(t.TempDir(), "policy.tar.gz")
	writeTarGz(t, tarBundle, bundleFiles)

	for name, path := range map[string]string{"directory": dirBundle, "tar.gz": tarBundle} {
		t.Run(name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.BundlePath, opts.Watch = path, false
			e := newEngine(t, opts)
			d, err := e.Field(ctx, billingName)
			if err != nil || d.Effect != EffectReveal {
				t.Fatalf("Field(billing, name) = %+v, %v; want reveal from the bundle", d, err)
			}
			// The shipped policy is still there.
			in := billingName
			in.Resource.Class = "address"
			if d, err := e.Field(ctx, in); err != nil || d.Effect != EffectReveal {
				t.Fatalf("Field(billing, address) = %+v, %v; want reveal from the default", d, err)
			}
		})
	}
}

func TestBundleWatchReplacedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.tar.gz")
	files := map[string]string{"/data.json": `{"piivault_extra": {"billing_classes": []}}`, "/billing.rego": bundleFiles["/billing.rego"]}
	writeTarGz(t, path, files)
	opts := DefaultOptions()
	opts.BundlePath, opts.Debounce = path, 20*time.Millisecond
	e := newEngine(t, opts)
	if d, _ := e.Field(ctx, billingName); d.Effect != EffectDeny {
		t.Fatalf("before: %+v, want deny", d)
	}
	// Replace the bundle the way a downloader does: write aside, rename over.
	tmp := filepath.Join(dir, ".policy.tar.gz.tmp")
	writeTarGz(t, tmp, bundleFiles)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new bundle", func() bool {
		d, _ := e.Field(ctx, billingName)
		return d.Effect == EffectReveal
	})
}

func TestInvalidBundleRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.tar.gz")
	writeTarGz(t, path, map[string]string{"/x.rego": "package piivault.authz\nfield := "})
	opts := DefaultOptions()
	opts.BundlePath, opts.Watch = path, false
	if e, err := New(context.Background(), opts); err == nil {
		e.Close()
		t.Fatal("New with an invalid bundle succeeded")
	}
}

func TestDefaultPolicyExported(t *testing.T) {
	srcs := DefaultPolicy()
	if len(srcs) != 1 || srcs["piivault.rego"] == "" {
		t.Fatalf("DefaultPolicy() = %d files, want piivault.rego only (no tests)", len(srcs))
	}
}

// TestWatchKubernetesConfigMap mimics how the kubelet updates a ConfigMap
// mounted as a folder: files are symlinks name -> ..data/name, ..data is a
// symlink to a dot-folder, and an update writes a new dot-folder and swaps
// ..data atomically by a rename.
func TestWatchKubernetesConfigMap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	version := func(name, src string) {
		t.Helper()
		writeFile(t, filepath.Join(dir, name, "billing.rego"), src)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_11_26_00_00_00.1", "package piivault.authz\n")
	if err := os.Symlink(filepath.Join("..data", "billing.rego"), filepath.Join(dir, "billing.rego")); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.PolicyDir, opts.Debounce = dir, 20*time.Millisecond
	logs := &testenv.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e := newEngine(t, opts)
	if d, err := e.Field(ctx, billingName); err != nil || d.Effect != EffectDeny {
		t.Fatalf("before: %+v, %v; want deny", d, err)
	}
	version("..2026_11_26_00_01_00.2", extension)
	waitFor(t, "the ConfigMap update", func() bool {
		d, _ := e.Field(ctx, billingName)
		return d.Effect == EffectReveal
	})
	mods, _, err := e.sources()
	if err != nil {
		t.Fatal(err)
	}
	for name := range mods {
		if strings.Contains(name, "..") {
			t.Errorf("module %s loaded from a dot-folder; want only the ..data view through the top-level symlinks", name)
		}
	}
	// An invalid ConfigMap version is refused, the old one kept.
	// The refusal is logged once the watcher has read it: only then is
	// "the old one kept" a result, not a reload that has not come yet.
	version("..2026_11_26_00_02_00.3", "package piivault.authz\nfield := ")
	waitFor(t, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "policy reload refused") })
	if d, _ := e.Field(ctx, billingName); d.Effect != EffectReveal {
		t.Fatalf("after invalid version: %+v, want reveal kept", d)
	}
}

// TestWatchFolderAndBundleTogether: a bundle file that sits inside the policy
// folder must not hide the folder's own changes from the watcher.
func TestWatchFolderAndBundleTogether(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeTarGz(t, filepath.Join(dir, "bundle.tar.gz"), map[string]string{"/x.rego": "package piivault.authz\n"})
	opts := DefaultOptions()
	opts.PolicyDir, opts.BundlePath, opts.Debounce = dir, filepath.Join(dir, "bundle.tar.gz"), 20*time.Millisecond
	e := newEngine(t, opts)
	writeFile(t, filepath.Join(dir, "billing.rego"), extension)
	waitFor(t, "the folder change", func() bool {
		d, _ := e.Field(ctx, billingName)
		return d.Effect == EffectReveal
	})
}
