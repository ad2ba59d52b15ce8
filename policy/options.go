package policy

import (
	"log/slog"
	"time"
)

// Options configure an Engine. Start from DefaultOptions.
type Options struct {
	// PolicyDir is a folder of operator Rego files (*.rego, searched
	// recursively; *_test.rego and dot-files are skipped) and optional data
	// files (*.json, *.yaml). They are compiled together with the shipped
	// default policy, unless ReplaceDefault is set. Empty: none.
	PolicyDir string

	// BundlePath is an OPA bundle, a .tar.gz file or a directory laid out as
	// a bundle (modules, data.json, optional .manifest). It is an
	// alternative (or addition) to PolicyDir and is combined the same way.
	// Empty: none.
	BundlePath string

	// ReplaceDefault drops the shipped default policy: only the folder and
	// the bundle are compiled. They must then define
	// data.piivault.authz.authorize and data.piivault.authz.field.
	ReplaceDefault bool

	// Watch reloads the policy when files under PolicyDir or BundlePath
	// change. An invalid change is refused and the previous policy kept.
	Watch bool

	// Debounce is how long the watcher waits for a burst of file events
	// (an editor saving, a ConfigMap swap) to settle before reloading.
	Debounce time.Duration

	// CacheSize bounds the number of cached decisions per policy revision.
	// When full, the cache is emptied and refills. 0 or less: no cache.
	CacheSize int

	// Logger receives reload and error messages. They never carry a PII
	// value or a principal attribute. Nil: discard.
	Logger *slog.Logger

	// DecisionLog, if set, is called synchronously for every decision
	// (cached or not, root included). The record holds no value. The
	// record's Roles slice is the caller's: copy it to keep it.
	DecisionLog func(DecisionRecord)

	// Now is the clock for DecisionRecord.Time. Nil: time.Now.
	Now func() time.Time
}

// DefaultOptions returns the options piivault runs with: shipped policy,
// watching on, a 64Ki-entry cache, 200 ms debounce.
func DefaultOptions() Options {
	return Options{
		Watch:     true,
		Debounce:  200 * time.Millisecond,
		CacheSize: 1 << 16,
	}
}
