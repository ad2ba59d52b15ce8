package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// badgerOptions is the one place Badger is configured; benchmarks open raw
// Badger with the same function so the comparison is fair.
// See doc.go "Badger tuning" for the reasons behind each value.
func badgerOptions(dir string, o Options, logger *slog.Logger) badger.Options {
	bo := badger.DefaultOptions(dir)
	// Every level's tables at BaseTableSize: a compaction runs up to about
	// eight table builders at once, each holding twice its table size, so
	// growing tables per level (the default doubles them) is what made
	// memory peak under sustained writes.
	bo.TableSizeMultiplier = 1
	return bo.
		WithSyncWrites(true).
		WithLogger(badgerLogger{l: logger, min: o.BadgerLogLevel}).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(o.NumMemtables).
		WithNumLevelZeroTables(o.NumMemtables).
		WithNumLevelZeroTablesStall(o.NumMemtables + 8).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithValueThreshold(o.ValueThreshold).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithBaseTableSize(o.BaseTableSize).
		WithNumCompactors(o.NumCompactors).
		WithCompression(options.None).
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithNumGoroutines(2)
}

// badgerLogger routes Badger's log lines into slog.
type badgerLogger struct {
	l   *slog.Logger
	min slog.Level
}

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	if level < b.min || !b.l.Enabled(context.Background(), level) {
		return
	}
	b.l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), attrComponent, "badger")
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelInfo, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }
