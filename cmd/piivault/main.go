// Command piivault is the piivault sidecar and its operator commands.
//
// main only wires signals and exit codes; run does the rest and is tested.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "piivault: shutting down gracefully (send the signal again to force an immediate exit)")
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "piivault: forced exit")
		os.Exit(exitForced)
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	cancel()
	os.Exit(exitCode(err, os.Stderr))
}
