#!/usr/bin/env bash
# The CDK app's checks: install its npm dependencies (only when package-lock.json changed), type-check,
# run the tests (assertions, equivalence with infra/template.yaml, bundling), then `cdk synth` offline
# with bundling skipped. Builds no Rust: the tests stand in for cargo, and the synth may not call it.
set -euo pipefail

CDK_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$CDK_DIR/../.." && pwd)"
VENV_PYTHON="$ROOT/.local/venv/bin/python"
LOCK_MARKER="$CDK_DIR/node_modules/.package-lock.sha256"
cd "$CDK_DIR"

log() { echo "cdk/test.sh: $*" >&2; }
die() { echo "cdk/test.sh: error: $*" >&2; exit 1; }

node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 6) ? 0 : 1)' \
  || die "Node.js 20.6 or later is required (found $(node --version))"
# The equivalence test translates the SAM template with samtranslator, which aws-sam-cli brings.
[[ -x "$VENV_PYTHON" ]] && "$VENV_PYTHON" -c 'import samtranslator' 2>/dev/null \
  || die "$VENV_PYTHON with samtranslator is missing: run 'infra/local/stack.sh install' (or 'make setup') first"

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "$LOCK_MARKER" && "$(cat "$LOCK_MARKER")" == "$lock_hash" ]]; then
  log "npm dependencies up to date"
else
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" >"$LOCK_MARKER"
fi

log "tsc --noEmit"
npx tsc --noEmit

log "tests"
node --import tsx --test --test-reporter=spec test/*.test.ts

# A cargo that always fails: with bundling skipped the synth only asks it for cargo-lambda's version.
synth_dir="$(mktemp -d)"
trap 'rm -rf "$synth_dir"' EXIT
mkdir "$synth_dir/bin"
printf '#!/bin/sh\nexit 1\n' >"$synth_dir/bin/cargo"
chmod +x "$synth_dir/bin/cargo"
log "cdk synth (offline, bundling skipped)"
PATH="$synth_dir/bin:$PATH" CDK_DEFAULT_ACCOUNT=123456789012 CDK_DEFAULT_REGION=us-east-1 CDK_DISABLE_CLI_TELEMETRY=true \
  npx cdk synth --quiet --no-notices --output "$synth_dir/cdk.out" -c bundling=false
[[ -s "$synth_dir/cdk.out/sellerbridge.template.json" ]] || die "cdk synth wrote no sellerbridge.template.json"
log "passed"
