# shellcheck shell=bash
# devvault.sh: a real HashiCorp Vault dev server for piivault's integration
# tests, built from the Go module proxy (tools/devvault) and cached.
#
# Source it, then:
#   devvault_start   build (once, cached outside the clone) and start the
#                    server on a free 127.0.0.1 port; exports VAULT_ADDR,
#                    VAULT_TOKEN and PIIVAULT_DEVVAULT_BIN.
#   devvault_stop    stop the server started by devvault_start (by PID).
#   devvault_build   only build (or find) the binary; prints its path.
#
# The binary lives in ${PIIVAULT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/piivault}
# as devvault-<hash>, where the hash covers every file of tools/devvault and
# `go version`. A cold build takes ~15 min and ~3 GB of memory; after that it
# is reused. Concurrent callers serialise on a lock file.

_devvault_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); }

devvault_build() {
  local root src cache hash bin
  root=$(_devvault_root)
  src="$root/tools/devvault"
  cache=${PIIVAULT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/piivault}
  mkdir -p "$cache"
  hash=$(
    cd "$src" || exit 1
    # The module's files (tracked or not, minus ignored build output); without
    # git (an exported tree), every file but the binary.
    files=$(git ls-files -co --exclude-standard . 2>/dev/null) ||
      files=$(find . -type f ! -name devvault ! -path './bin/*' | sed 's|^\./||')
    { go version; printf '%s\n' "$files" | LC_ALL=C sort |
        while read -r f; do [ -f "$f" ] && { echo "$f"; sha256sum <"$f"; }; done; } | sha256sum | cut -c1-16
  ) || return 1
  bin="$cache/devvault-$hash"
  if [ ! -x "$bin" ]; then
    (
      flock 9
      if [ ! -x "$bin" ]; then
        echo "devvault: building $bin (cold build: ~15 min, ~3 GB RAM)" >&2
        local t0=$SECONDS
        (cd "$src" && go build -trimpath -o "$bin.tmp.$$" .) >&2 || { rm -f "$bin.tmp.$$"; exit 1; }
        mv -f "$bin.tmp.$$" "$bin"
        echo "devvault: built in $((SECONDS - t0))s, $(du -h "$bin" | cut -f1)" >&2
        # Keep the three newest binaries (~150 MB each); other clones may
        # still use an older one.
        # shellcheck disable=SC2012
        ls -t "$cache"/devvault-[0-9a-f]* 2>/dev/null | grep -v '\.tmp\.' | tail -n +4 | xargs -r rm -f
      fi
    ) 9>"$cache/devvault.lock" || return 1
  fi
  echo "$bin"
}

devvault_start() {
  local bin dir pid addr i
  bin=$(devvault_build) || { echo "devvault: build failed" >&2; return 1; }
  dir=$(mktemp -d "${TMPDIR:-/tmp}/devvault.XXXXXX")
  : "${VAULT_TOKEN:=piivault-ci-root-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  "$bin" -addr 127.0.0.1:0 -root-token "$VAULT_TOKEN" -addr-file "$dir/addr" >"$dir/out.log" 2>"$dir/err.log" &
  pid=$!
  DEVVAULT_PID=$pid
  DEVVAULT_DIR=$dir
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "devvault: server exited early:" >&2; cat "$dir/err.log" >&2; return 1
    fi
    if [ -s "$dir/addr" ]; then
      addr=$(cat "$dir/addr")
      if curl -fsS -o /dev/null "$addr/v1/sys/health"; then break; fi
    fi
    sleep 0.1
  done
  if [ -z "${addr:-}" ] || ! curl -fsS -o /dev/null "$addr/v1/sys/health"; then
    echo "devvault: not healthy after 30s" >&2; cat "$dir/err.log" >&2; devvault_stop; return 1
  fi
  export VAULT_ADDR=$addr VAULT_TOKEN PIIVAULT_DEVVAULT_BIN=$bin DEVVAULT_PID
  echo "devvault: Vault dev server at $VAULT_ADDR (pid $pid)" >&2
}

devvault_stop() {
  if [ -n "${DEVVAULT_PID:-}" ]; then
    kill "$DEVVAULT_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$DEVVAULT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DEVVAULT_PID" 2>/dev/null || true
    wait "$DEVVAULT_PID" 2>/dev/null || true
    unset DEVVAULT_PID
  fi
  if [ -n "${DEVVAULT_DIR:-}" ]; then rm -rf "$DEVVAULT_DIR"; unset DEVVAULT_DIR; fi
}
