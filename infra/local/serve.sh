#!/usr/bin/env bash
# `make serve`: local stack + SP-API sandbox + `sellerbridge local serve` until Ctrl-C, then stops what it
# started. SERVE_PORT (default 8080) is the webhook and read endpoint port on 127.0.0.1; extra arguments
# go to `sellerbridge local serve`. With SERVE_AMAZON=1 no sandbox is started: the handlers call Amazon
# with the app credentials read from standard input (see `sellerbridge local serve --help`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SANDBOX_ORDERS="${SANDBOX_ORDERS:-40}"
SERVE_PORT="${SERVE_PORT:-8080}"

# shellcheck source=infra/local/use-stack.sh
source "$ROOT/infra/local/use-stack.sh"
prepare_local_run
if [[ "${SERVE_AMAZON:-0}" == 1 ]]; then
  "$BIN/sellerbridge" local serve --amazon --port "$SERVE_PORT" "$@"
else
  start_sandbox "$BIN" "$SANDBOX_ORDERS" 1
  "$BIN/sellerbridge" local serve --sandbox-url "$sandbox_url" --port "$SERVE_PORT" "$@"
fi
