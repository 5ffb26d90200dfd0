#!/usr/bin/env bash
# Benchmarks on the local stack (see tests/e2e/benches/throughput.rs); stops what it started.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="$ROOT/infra/local/stack.sh"
cd "$ROOT"

"$STACK" install
started_here=0
"$STACK" status >/dev/null 2>&1 || started_here=1
cleanup() { if ((started_here)); then "$STACK" stop || true; fi; }
trap cleanup EXIT

"$STACK" start >/dev/null
set -a
# shellcheck disable=SC1091
source "$ROOT/.local/stack.env"
set +a
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_EC2_METADATA_DISABLED=true
# The dev profile: the time goes to DynamoDB Local, moto and the sandbox, not to our code, and a release
# build of the AWS SDKs would cost a quarter of an hour on a small machine.
cargo bench --profile dev -p sellerbridge-e2e --bench throughput
