#!/usr/bin/env bash
# Demo: local stack + SP-API sandbox + `sellerbridge local demo`. Stops what it started on exit and
# exits with the demo's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOGS="$ROOT/.local/logs"
cd "$ROOT"

SANDBOX_ORDERS="${SANDBOX_ORDERS:-240}"
SANDBOX_TIME_SCALE="${SANDBOX_TIME_SCALE:-2}"
SANDBOX_START_TIMEOUT="${SANDBOX_START_TIMEOUT:-60}"

# shellcheck source=infra/local/use-stack.sh
source "$ROOT/infra/local/use-stack.sh"
sandbox_pid=""
cleanup() {
  if [[ -n "$sandbox_pid" ]] && kill -0 "$sandbox_pid" 2>/dev/null; then
    kill -TERM -- "-$sandbox_pid" 2>/dev/null || kill -TERM "$sandbox_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$sandbox_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$sandbox_pid" 2>/dev/null || true
  fi
  release_local_stack
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_local_stack

# The same selection as `make test`, so features resolve alike and the two share every artifact.
cargo build --workspace --bins
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

mkdir -p "$LOGS"
sandbox_log="$LOGS/spapi-sandbox.log"
sandbox_out="$LOGS/spapi-sandbox.stdout"
pidfile="$ROOT/.local/.sandbox.pid"
rm -f "$pidfile"
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
  "$BIN/spapi-sandbox" --port 0 --orders "$SANDBOX_ORDERS" --time-scale "$SANDBOX_TIME_SCALE" \
  </dev/null >"$sandbox_out" 2>"$sandbox_log" &
for _ in $(seq 1 50); do [[ -s "$pidfile" ]] && break; sleep 0.05; done
sandbox_pid="$(cat "$pidfile" 2>/dev/null || true)"
rm -f "$pidfile"
[[ -n "$sandbox_pid" ]] || { echo "demo.sh: could not start spapi-sandbox" >&2; exit 1; }

sandbox_url=""
deadline=$((SECONDS + SANDBOX_START_TIMEOUT))
while [[ -z "$sandbox_url" ]]; do
  first_line="$(head -n 1 "$sandbox_out" 2>/dev/null || true)"
  if [[ "$first_line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+) ]]; then
    sandbox_url="${BASH_REMATCH[1]}"
    break
  fi
  if ! kill -0 "$sandbox_pid" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "demo.sh: spapi-sandbox did not print 'listening on http://127.0.0.1:PORT'; last lines of $sandbox_log:" >&2
    tail -n 30 "$sandbox_log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
echo "demo.sh: SP-API sandbox at $sandbox_url (log: $sandbox_log)" >&2

rc=0
"$BIN/sellerbridge" local demo --sandbox-url "$sandbox_url" --time-scale "$SANDBOX_TIME_SCALE" || rc=$?
exit "$rc"
