package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/sdk"
)

// verifyOffline opens the event log of the data folder and walks its hash
// chain.
func verifyOffline(ctx context.Context, cfg config.Config) (sdk.VerifyResult, error) {
	dir := filepath.Join(cfg.Data, logDir)
	if !exists(dir) {
		return sdk.VerifyResult{}, fmt.Errorf("no event log in %s", cfg.Data)
	}
	o := eventlog.DefaultOptions()
	o.Logger = slog.New(slog.DiscardHandler)
	l, err := eventlog.Open(dir, o)
	if err != nil {
		return sdk.VerifyResult{}, fmt.Errorf("open event log in %s (if a sidecar is running on it, use --addr): %w", cfg.Data, err)
	}
	defer l.Close()
	r, err := l.Verify(ctx)
	if err != nil {
		return sdk.VerifyResult{}, err
	}
	return sdk.VerifyResult{OK: r.OK, HeadPosition: r.HeadPosition, HeadHash: hex.EncodeToString(r.HeadHash[:]), BreakAt: r.BreakAt, Reason: r.Reason}, nil
}
