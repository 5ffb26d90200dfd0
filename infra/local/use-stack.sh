# Sourced by test.sh, demo.sh, serve.sh and bench.sh (after setting ROOT).
# `use_local_stack` installs the tools, starts DynamoDB Local and moto unless they already run, and exports
# their endpoints with dummy AWS credentials; `release_local_stack`, called from the script's EXIT trap,
# stops the stack again if this run started it. `start_sandbox BIN ORDERS TIME_SCALE` starts the SP-API
# sandbox binary on a free port and sets `sandbox_url`; `stop_sandbox` stops it. `prepare_local_run` does
# what demo.sh and serve.sh share: traps that stop whatever they started, the local stack, the workspace's
# binaries (in `BIN`).
STACK="$ROOT/infra/local/stack.sh"
started_stack=0

use_local_stack() {
  "$STACK" install
  if "$STACK" status >/dev/null 2>&1; then
    echo "$(basename "$0"): reusing the running local stack (left running afterwards)" >&2
  else
    started_stack=1
  fi
  "$STACK" start >/dev/null
  set -a
  # shellcheck disable=SC1091
  source "$ROOT/.local/stack.env"
  set +a
  # Local servers take any static credentials; never let a run pick up real ones or IMDS.
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_EC2_METADATA_DISABLED=true
}

release_local_stack() {
  if ((started_stack)); then
    "$STACK" stop || true
  fi
}

sandbox_pid=""
sandbox_url=""

start_sandbox() {
  local bin="$1" orders="$2" time_scale="$3" logs="$ROOT/.local/logs"
  local timeout="${SANDBOX_START_TIMEOUT:-60}"
  mkdir -p "$logs"
  local sandbox_log="$logs/spapi-sandbox.log" sandbox_out="$logs/spapi-sandbox.stdout"
  local pidfile="$ROOT/.local/.sandbox.pid"
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
    "$bin/spapi-sandbox" --port 0 --orders "$orders" --time-scale "$time_scale" \
    </dev/null >"$sandbox_out" 2>"$sandbox_log" &
  for _ in $(seq 1 50); do [[ -s "$pidfile" ]] && break; sleep 0.05; done
  sandbox_pid="$(cat "$pidfile" 2>/dev/null || true)"
  rm -f "$pidfile"
  [[ -n "$sandbox_pid" ]] || { echo "$(basename "$0"): could not start spapi-sandbox" >&2; return 1; }
  local deadline=$((SECONDS + timeout)) first_line
  while [[ -z "$sandbox_url" ]]; do
    first_line="$(head -n 1 "$sandbox_out" 2>/dev/null || true)"
    if [[ "$first_line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+) ]]; then
      sandbox_url="${BASH_REMATCH[1]}"
      break
    fi
    if ! kill -0 "$sandbox_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "$(basename "$0"): spapi-sandbox did not print 'listening on http://127.0.0.1:PORT'; last lines of $sandbox_log:" >&2
      tail -n 30 "$sandbox_log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "$(basename "$0"): SP-API sandbox at $sandbox_url (log: $sandbox_log)" >&2
}

stop_sandbox() {
  if [[ -n "$sandbox_pid" ]] && kill -0 "$sandbox_pid" 2>/dev/null; then
    kill -TERM -- "-$sandbox_pid" 2>/dev/null || kill -TERM "$sandbox_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$sandbox_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$sandbox_pid" 2>/dev/null || true
  fi
}

prepare_local_run() {
  trap 'stop_sandbox; release_local_stack' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  use_local_stack
  # The same selection as `make test`, so features resolve alike and the two share every artifact.
  cargo build --workspace --bins
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
}
