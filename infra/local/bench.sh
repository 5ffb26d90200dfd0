#!/usr/bin/env bash
# Benchmarks on the local stack (see tests/e2e/benches/scenarios.rs): one JSON file per scenario in
# target/bench/. `infra/local/bench.sh --short` runs them small, as the test run does. Stops what it started.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

# shellcheck source=infra/local/use-stack.sh
source "$ROOT/infra/local/use-stack.sh"
trap release_local_stack EXIT
use_local_stack
# The dev profile: the time goes to DynamoDB Local, moto and the sandbox, not to our code, and a release
# build of the AWS SDKs would cost a quarter of an hour on a small machine.
cargo bench --profile dev -p sellerbridge-e2e --bench scenarios -- "$@"
