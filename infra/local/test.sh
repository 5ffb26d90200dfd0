#!/usr/bin/env bash
# Full local test run: install tools, start DynamoDB Local + moto, `cargo test --workspace` against
# them, validate infra/template.yaml, and always stop the stack it started.
# Extra arguments are passed to `cargo test` (e.g. `infra/local/test.sh -p sellerbridge-cli`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="$ROOT/infra/local/stack.sh"
cd "$ROOT"

"$STACK" install

started_here=0
cleanup() {
  if ((started_here)); then
    "$STACK" stop || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "$STACK" status >/dev/null 2>&1; then
  echo "test.sh: reusing the running local stack (left running afterwards)" >&2
else
  started_here=1
fi
"$STACK" start >/dev/null

set -a
# shellcheck disable=SC1091
source "$ROOT/.local/stack.env"
set +a
# Local servers take any static credentials; never let tests pick up real ones or IMDS.
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_EC2_METADATA_DISABLED=true

rc=0
echo "test.sh: cargo test --workspace --no-fail-fast $* (DynamoDB Local $SELLERBRIDGE_DYNAMODB_ENDPOINT, moto $SELLERBRIDGE_MOTO_ENDPOINT)" >&2
# The function binaries first: the Runtime API test runs them as deployed.
cargo build --workspace --bins || rc=$?
((rc)) || cargo test --workspace --no-fail-fast "$@" || rc=$?
"$STACK" validate || { ((rc)) || rc=1; }

if ((rc)); then
  echo "test.sh: FAILED (exit $rc)" >&2
fi
exit "$rc"
