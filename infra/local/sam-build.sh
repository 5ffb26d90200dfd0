#!/usr/bin/env bash
# Builds the template's Lambda functions the way a deployment does: `sam build --beta-features` on
# infra/template.yaml, whose functions are `BuildMethod: rust-cargolambda` (a SAM beta feature), into
# .aws-sam/build/<LogicalId>/bootstrap. cargo-lambda (with zig, both from PyPI) cross-compiles each binary.
#
#   sam-build.sh [--arch arm64|x86_64] [--quick]
#
#   --arch    the functions' architecture, default arm64 (the template's default). Passed to SAM as the
#             template's Architecture parameter; the built template (.aws-sam/build/template.yaml, what
#             `sam deploy` deploys) then allows only that value and defaults to it.
#   --quick   for CI: the same build through the same tools, but an unoptimised release profile
#             (opt-level 0, no LTO, 256 codegen units), so it proves the build works in a fraction of the
#             time. Its binaries are larger and slower: never deploy them.
#
# Installs what it needs if missing (stack.sh install-build: SAM and cargo-lambda into .local/venv; the
# rustup target), then checks that every function of the template got a bootstrap that is an ELF
# executable for the architecture, and prints one line per function with its size. The build's
# cargo-lambda output goes to the workspace's target/ (target/<triple>/release, target/lambda/).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="$ROOT/.local/venv"
TEMPLATE="$ROOT/infra/template.yaml"
BUILD_DIR="$ROOT/.aws-sam/build"

log() { echo "sam-build.sh: $*" >&2; }
die() { echo "sam-build.sh: error: $*" >&2; exit 1; }
usage() { echo "usage: $0 [--arch arm64|x86_64] [--quick]" >&2; exit 2; }

arch=arm64
quick=0
while (($#)); do
  case "$1" in
    --arch) (($# >= 2)) || usage; arch="$2"; shift ;;
    --arch=*) arch="${1#--arch=}" ;;
    --quick) quick=1 ;;
    -h | --help) usage ;;
    *) echo "sam-build.sh: unknown argument: $1" >&2; usage ;;
  esac
  shift
done
case "$arch" in
  arm64) triple=aarch64-unknown-linux-gnu ;;
  x86_64) triple=x86_64-unknown-linux-gnu ;;
  *) die "--arch must be arm64 or x86_64, not '$arch'" ;;
esac

# ------------------------------------------------------------------ tools
bash "$ROOT/infra/local/stack.sh" install-build
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH (install Rust with rustup)"
# The target's standard library (a look in the sysroot is quicker than asking rustup).
sysroot="$(cd "$ROOT" && rustc --print sysroot)" || die "rustc does not run"
if [[ ! -d "$sysroot/lib/rustlib/$triple/lib" ]]; then
  command -v rustup >/dev/null 2>&1 || die "the Rust standard library for $triple is missing, and no rustup to add it"
  log "rustup target add $triple"
  (cd "$ROOT" && rustup target add "$triple") >&2 || die "rustup target add $triple failed"
fi

# cargo-lambda and zig (`python3 -m ziglang`, which cargo-lambda finds through the venv's python3) first.
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_TELEMETRY=0
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_SESSION_TOKEN
# For arm64 SAM runs `cargo lambda build --arm64`; for x86_64 it names no target, and cargo-lambda would
# build for the host's architecture: its configuration (CARGO_LAMBDA_ variables) names x86_64, so that an
# arm64 host builds x86_64 too. Not for arm64: cargo-lambda refuses --arm64 together with a configured target.
if [[ "$arch" == x86_64 ]]; then
  export CARGO_LAMBDA_BUILD="{target=[\"$triple\"]}"
else
  unset CARGO_LAMBDA_BUILD
fi
if ((quick)); then
  # cargo-lambda adds `--config profile.release.X` (which would beat these) only for strip, lto,
  # codegen-units and panic when the workspace's [profile.release] leaves them unset; it sets the first three.
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols
  mode="quick (unoptimised) release"
else
  unset CARGO_PROFILE_RELEASE_OPT_LEVEL CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS \
    CARGO_PROFILE_RELEASE_DEBUG CARGO_PROFILE_RELEASE_STRIP
  mode="release"
fi

# ------------------------------------------------------------------ build
log "sam build: $mode, $arch ($triple) into ${BUILD_DIR#"$ROOT"/}"
started=$SECONDS
# --build-in-source: where cargo-lambda builds anyway (the workspace's target/); SAM warns without it.
(cd "$ROOT" && sam build --beta-features --build-in-source --template "$TEMPLATE" --build-dir "$BUILD_DIR" \
  --parameter-overrides "Architecture=$arch") || die "sam build failed (for $arch)"
log "sam build took $((SECONDS - started)) s"

# ------------------------------------------------------------------ check
# The template's functions (SAM's own YAML loader reads the short-form intrinsics), then each bootstrap's
# ELF header: 64-bit, executable (ET_EXEC, or ET_DYN for a PIE), e_machine 0xB7 (aarch64) or 0x3E (x86_64);
# then the built template is pinned to the architecture.
"$VENV/bin/python" - "$TEMPLATE" "$BUILD_DIR" "$arch" <<'PY'
import os, struct, sys
from samcli.yamlhelper import yaml_dump, yaml_parse

template_path, build_dir, arch = sys.argv[1:]
machines = {0xB7: "arm64", 0x3E: "x86_64"}
with open(template_path) as f:
    template = yaml_parse(f.read())
functions = sorted(
    (logical_id, (resource.get("Metadata") or {}).get("BuildProperties", {}).get("Binary", "?"))
    for logical_id, resource in template["Resources"].items()
    if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
)
if not functions:
    sys.exit(f"sam-build.sh: error: no functions in {template_path}")
problems = []
for logical_id, binary in functions:
    path = os.path.join(build_dir, logical_id, "bootstrap")
    if not os.path.isfile(path):
        problems.append(f"{logical_id} ({binary}): no bootstrap at {path}")
        continue
    with open(path, "rb") as f:
        header = f.read(20)
    size = os.path.getsize(path)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        problems.append(f"{logical_id} ({binary}): {path} is not an ELF file")
        continue
    if header[4] != 2 or header[5] != 1:
        problems.append(f"{logical_id} ({binary}): {path} is not a 64-bit little-endian ELF file")
        continue
    e_type, e_machine = struct.unpack_from("<HH", header, 16)
    found = machines.get(e_machine, f"e_machine 0x{e_machine:X}")
    if e_type not in (2, 3) or not os.access(path, os.X_OK):
        problems.append(f"{logical_id} ({binary}): {path} is not an executable (e_type {e_type})")
    elif found != arch:
        problems.append(f"{logical_id} ({binary}): {path} is built for {found}, not {arch}")
    else:
        print(f"{logical_id:<28} {binary:<20} {arch:<7} {size / 1e6:7.1f} MB ({size} bytes)")
if problems:
    print("sam-build.sh: error: the build did not produce what the template deploys:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    sys.exit(1)

# The built template, which `sam deploy` deploys, allows only the architecture its binaries are built for
# (and defaults to it): deploying it with the other one fails at once instead of making functions that
# cannot start. infra/template.yaml is left as it is.
built_path = os.path.join(build_dir, "template.yaml")
with open(built_path) as f:
    built = yaml_parse(f.read())
parameter = (built.get("Parameters") or {}).get("Architecture")
if parameter is None:
    sys.exit(f"sam-build.sh: error: {built_path} has no Architecture parameter")
parameter["Default"] = arch
parameter["AllowedValues"] = [arch]
with open(built_path, "w") as f:
    f.write(yaml_dump(built))
PY
log "ok: every function's bootstrap is an $arch executable; .aws-sam/build/template.yaml allows only Architecture=$arch"
