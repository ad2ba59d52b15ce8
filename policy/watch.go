package policy

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch starts a goroutine that reloads the policy when a file under
// PolicyDir or BundlePath changes. fsnotify is not recursive, so every
// folder below is added, and folders created later are added as they
// appear. Bursts of events are coalesced for Options.Debounce.
func (e *Engine) watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	// Events count when they happen in a watched tree, or name a watched
	// single file (whose folder is watched: a file is usually replaced by a
	// rename, which a watch on the file itself would lose).
	treeDirs := make(map[string]bool)
	singleFiles := make(map[string]bool)
	addTree := func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				// Dot-folders are not loaded (see skipFile); a Kubernetes
				// ConfigMap swap shows up as events on the root instead.
				return filepath.SkipDir
			}
			treeDirs[filepath.Clean(p)] = true
			return w.Add(p)
		})
	}
	addSource := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return addTree(p)
		}
		singleFiles[filepath.Clean(p)] = true
		return w.Add(filepath.Dir(p))
	}
	for _, p := range []string{e.opts.PolicyDir, e.opts.BundlePath} {
		if p == "" {
			continue
		}
		if err := addSource(p); err != nil {
			w.Close()
			return err
		}
	}

	e.watchWG.Add(1)
	go func() {
		defer e.watchWG.Done()
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Clean(ev.Name)
				if !treeDirs[filepath.Dir(name)] && !singleFiles[name] {
					continue // a neighbour of a watched single file
				}
				if ev.Has(fsnotify.Create) && !strings.HasPrefix(filepath.Base(ev.Name), ".") {
					if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
						_ = addTree(name)
					}
				}
				timer.Reset(e.opts.Debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				e.log.Warn("policy watcher error", slog.String(logKeyError, err.Error()))
			case <-timer.C:
				if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
					// Reload logged the reason already.
					continue
				}
			}
		}
	}()
	return nil
}
