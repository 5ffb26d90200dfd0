#!/usr/bin/env bash
# Full local test run: install tools, start DynamoDB Local + moto, `cargo test --workspace` against
# them, validate infra/template.yaml, and always stop the stack it started.
# Extra arguments are passed to `cargo test` (e.g. `infra/local/test.sh -p sellerbridge-cli`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=infra/local/use-stack.sh
source "$ROOT/infra/local/use-stack.sh"
trap release_local_stack EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
use_local_stack

rc=0
echo "test.sh: cargo test --workspace --no-fail-fast $* (DynamoDB Local $SELLERBRIDGE_DYNAMODB_ENDPOINT, moto $SELLERBRIDGE_MOTO_ENDPOINT)" >&2
# The function binaries first: the Runtime API test runs them as deployed.
cargo build --workspace --bins || rc=$?
((rc)) || cargo test --workspace --no-fail-fast "$@" || rc=$?
# Every benchmark scenario, small, so the harness cannot rot (figures in target/bench/).
((rc)) || cargo bench --profile dev -p sellerbridge-e2e --bench scenarios -- --short || rc=$?
"$STACK" validate || { ((rc)) || rc=1; }
bash "$ROOT/infra/cdk/test.sh" || { ((rc)) || rc=1; }
# `sam build` with cargo-lambda for both architectures, in a cheap release profile (about 5 minutes).
bash "$ROOT/infra/local/sam-build.sh" --arch arm64 --quick || { ((rc)) || rc=1; }
bash "$ROOT/infra/local/sam-build.sh" --arch x86_64 --quick || { ((rc)) || rc=1; }

if ((rc)); then
  echo "test.sh: FAILED (exit $rc)" >&2
fi
exit "$rc"
