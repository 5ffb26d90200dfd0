#!/usr/bin/env bash
# Demo: local stack + SP-API sandbox + `sellerbridge local demo`. Stops what it started on exit and
# exits with the demo's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SANDBOX_ORDERS="${SANDBOX_ORDERS:-240}"
SANDBOX_TIME_SCALE="${SANDBOX_TIME_SCALE:-2}"

# shellcheck source=infra/local/use-stack.sh
source "$ROOT/infra/local/use-stack.sh"
prepare_local_run
start_sandbox "$BIN" "$SANDBOX_ORDERS" "$SANDBOX_TIME_SCALE"

rc=0
"$BIN/sellerbridge" local demo --sandbox-url "$sandbox_url" --time-scale "$SANDBOX_TIME_SCALE" || rc=$?
exit "$rc"
