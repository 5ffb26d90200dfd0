# Local development and CI entry points. The logic lives in infra/local/*.sh.

.PHONY: setup stack-up stack-down validate-infra test demo lint bench fuzz

setup:
	bash infra/local/stack.sh install

stack-up: setup
	bash infra/local/stack.sh start

stack-down:
	bash infra/local/stack.sh stop

validate-infra: setup
	bash infra/local/stack.sh validate

# setup, start the stack, cargo test --workspace against it, validate the template, stop the stack.
test:
	bash infra/local/test.sh

# setup, start the stack and the SP-API sandbox, run `sellerbridge local demo`, stop everything.
demo:
	bash infra/local/demo.sh

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
