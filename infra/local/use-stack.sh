# Sourced by test.sh, demo.sh and bench.sh (after setting ROOT).
# `use_local_stack` installs the tools, starts DynamoDB Local and moto unless they already run, and exports
# their endpoints with dummy AWS credentials; `release_local_stack`, called from the script's EXIT trap,
# stops the stack again if this run started it.
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
