# Local development and CI entry points. The logic lives in infra/local/*.sh.

.PHONY: setup stack-up stack-down validate-infra cdk-test sam-build test demo serve lint bench fuzz

setup:
	bash infra/local/stack.sh install

stack-up: setup
	bash infra/local/stack.sh start

stack-down:
	bash infra/local/stack.sh stop

validate-infra: setup
	bash infra/local/stack.sh validate

# the CDK app (infra/cdk): type-check, its tests (incl. equivalence with infra/template.yaml), offline synth.
cdk-test: setup
	bash infra/cdk/test.sh

# `sam build` of infra/template.yaml with cargo-lambda into .aws-sam/build, for ARCH (arm64 or x86_64);
# QUICK=1 builds with an unoptimised release profile (CI's check that the build works; not for deploying).
ARCH ?= arm64
QUICK ?=
sam-build:
	bash infra/local/sam-build.sh --arch $(ARCH) $(if $(filter 1 yes true,$(QUICK)),--quick)

# setup, start the stack, cargo test --workspace against it, validate the template, stop the stack.
test:
	bash infra/local/test.sh

# setup, start the stack and the SP-API sandbox, run `sellerbridge local demo`, stop everything.
demo:
	bash infra/local/demo.sh

# the stack on this machine until Ctrl-C: webhooks and the read endpoint on 127.0.0.1:$(SERVE_PORT), the
# schedules and pollers running, against the SP-API sandbox (SERVE_AMAZON=1: against Amazon).
SERVE_PORT ?= 8080
serve:
	SERVE_PORT=$(SERVE_PORT) bash infra/local/serve.sh

# formatting and clippy, warnings as errors.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# every benchmark scenario on the local stack, full size; one JSON file each in target/bench/.
bench:
	bash infra/local/bench.sh

# property-based fuzz targets (shared/tests/fuzz.rs): FUZZ_CASES cases of each, in the optimised `fuzz`
# profile; no local stack needed. `cargo test` runs 256 of each.
FUZZ_CASES ?= 1000000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --profile fuzz -p sellerbridge-core --test fuzz
