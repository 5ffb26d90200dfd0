#!/usr/bin/env bash
# Demo: local stack + SP-API sandbox + `sellerbridge local demo`. Stops what it started on exit and
# exits with the demo's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="$ROOT/infra/local/stack.sh"
LOGS="$ROOT/.local/logs"
cd "$ROOT"

SANDBOX_ORDERS="${SANDBOX_ORDERS:-240}"
SANDBOX_TIME_SCALE="${SANDBOX_TIME_SCALE:-2}"
SANDBOX_START_TIMEOUT="${SANDBOX_START_TIMEOUT:-60}"

"$STACK" install

started_stack=0
sandbox_pid=""
cleanup() {
  if [[ -n "$sandbox_pid" ]] && kill -0 "$sandbox_pid" 2>/dev/null; then
    kill -TERM -- "-$sandbox_pid" 2>/dev/null || kill -TERM "$sandbox_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$sandbox_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$sandbox_pid" 2>/dev/null || true
  fi
  if ((started_stack)); then
    "$STACK" stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$STACK" status >/dev/null 2>&1 || started_stack=1
"$STACK" start >/dev/null

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

set -a
# shellcheck disable=SC1091
source "$ROOT/.local/stack.env"
set +a
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_EC2_METADATA_DISABLED=true

rc=0
"$BIN/sellerbridge" local demo --sandbox-url "$sandbox_url" --time-scale "$SANDBOX_TIME_SCALE" || rc=$?
exit "$rc"
