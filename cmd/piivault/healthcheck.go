package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/piivault/piivault/internal/config"
)

// runHealthcheck is for container health checks in exec form (the image has
// no shell and no curl): GET /healthz, exit 0 on 200, 1 otherwise. It reads
// no config file and never opens the data folder.
func runHealthcheck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "healthcheck", "[--addr URL | --listen ADDR]",
		"Asks a running sidecar's GET /healthz with a 2 s timeout: exit 0 on 200,\n"+
			"exit 1 otherwise. Without --addr the URL comes from --listen or "+config.EnvListen+"\n"+
			"(0.0.0.0 and [::] mean the loopback address; https when "+config.EnvTLSCertFile+" is set).")
	addr := fs.String("addr", "", "sidecar URL, e.g. http://127.0.0.1:8200")
	fs.StringVar(addr, "url", "", "same as --addr")
	listen := fs.String("listen", "", "the server's listen address (env "+config.EnvListen+", default "+config.DefaultListen+")")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	url := *addr
	if url == "" {
		l := firstNonEmpty(*listen, e.getenv(config.EnvListen), config.DefaultListen)
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			return usagef("healthcheck: listen address %q: want host:port", l)
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		scheme := "http"
		if e.getenv(config.EnvTLSCertFile) != "" {
			scheme = "https"
		}
		url = scheme + "://" + net.JoinHostPort(host, port)
	}
	url = strings.TrimRight(url, "/") + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("healthcheck: %v", err)
	}
	// Liveness only, on loopback, with no credential: the server's
	// certificate need not be checked here.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", url, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintln(e.stdout, "ok")
	return nil
}
