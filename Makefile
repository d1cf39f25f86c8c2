# Lifeline: the two commands of the README, and their parts.
#   make run    set up, walk the CLI demo, build the console, then run the license server
#               with demo data and the console on http://127.0.0.1:8080/
#   make test   set up, then every check CI runs
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
# `make console`: the release build (false: a debug build, as `make test` uses).
CONSOLE_RELEASE ?= true
DEMO_DIR ?= target/demo
# Cargo's output directory (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
LIFELINE := $(TARGET_DIR)/debug/lifeline

.PHONY: console console-test console-e2e bench bench-check pg-test serve-demo run test setup setup-run lint unit wasm-check wasm-test npm npm-test interop vectors demo bench-verify deny api-fuzz fuzz fuzz-smoke

run: setup-run demo console serve-demo

# The license server on an embedded SQLite with demo data (fresh each time), in the foreground.
LISTEN ?= 127.0.0.1:8080
serve-demo:
	$(CARGO) build --locked -q -p lifeline-cli
	@rm -rf target/demo-server
	@echo "== Lifeline server with demo data on http://$(LISTEN) (Ctrl-C stops it)"
	@echo "   console: open http://$(LISTEN)/ and sign in with the admin token printed below"
	@echo "   try: curl -s http://$(LISTEN)/.well-known/lifeline/keys.json"
	@echo "        curl -s -H \"Authorization: Bearer \$$(cat target/demo-server/admin-token)\" http://$(LISTEN)/api/v1/licenses"
	LIFELINE_ADMIN_TOKEN= $(LIFELINE) serve --demo --data-dir target/demo-server --listen $(LISTEN) --console dist/console

# The end-to-end console test runs on a debug build of the console (it reuses what
# console-test compiled: minutes less); `make run`, `make console` and `make bench` build the
# release one (-Oz, LTO), which `make bench` measures.
test: CONSOLE_RELEASE = false
test: setup lint deny npm unit pg-test wasm-check wasm-test npm-test console-test console-e2e api-fuzz fuzz-smoke
	@echo "make test: all checks passed"

setup:
	@bash .ci/setup

# Only what `make run` needs (no test tools).
setup-run:
	@bash .ci/setup run

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --exclude lifeline-console --all-targets --locked -- -D warnings
	$(CARGO) clippy -p lifeline-wasm -p lifeline-wasm-lite -p lifeline-console --all-targets --locked --target wasm32-unknown-unknown -- -D warnings

# Supply chain (deny.toml): licenses on the allow-list, no ed25519-dalek < 2, crates.io only.
# Advisories need the RustSec database, a git repository: checked when it is on this machine
# or can be fetched, skipped with a message otherwise (CI reaches only package registries).
ADVISORY_DBS := $(or $(CARGO_HOME),$(HOME)/.cargo)/advisory-dbs
deny:
	$(CARGO) deny --locked check licenses bans sources
	@if ls -d $(ADVISORY_DBS)/advisory-db-*/crates >/dev/null 2>&1 || $(CARGO) deny --locked fetch db >/dev/null 2>&1; then \
	  $(CARGO) deny --locked --offline check advisories; \
	else \
	  echo "make deny: advisories SKIPPED: no RustSec advisory database in $(ADVISORY_DBS) and it cannot be fetched (no network beyond package registries)"; \
	fi

# schemathesis against a real `lifeline serve --demo` from its served OpenAPI document, as an
# admin and as a viewer: no 5xx, every response as documented (.ci/api-fuzz; ~2.5 minutes).
api-fuzz:
	bash .ci/api-fuzz

# The console (web/) is wasm-only: its tests run in console-test. Every later `cargo test` of
# make test selects the same packages (WORKSPACE_TESTS) and filters tests by name, so it reuses
# this build: a `-p` selection resolves other features and recompiles much of the tree.
WORKSPACE_TESTS := --workspace --exclude lifeline-console --locked
unit:
	$(CARGO) test $(WORKSPACE_TESTS)

# The server's API tests again on PostgreSQL (a throwaway cluster on 127.0.0.1), plus two
# server nodes sharing one database, and the failover tests with their nodes on it. `cargo test` alone runs them on SQLite only.
# The cluster lives under /tmp: the postgres user must reach it wherever the checkout is.
pg-test:
	@dir=$$(mktemp -d /tmp/lifeline-pg.XXXXXX); url=$$(bash .ci/pg start $$dir) && echo "PostgreSQL at $$url"; \
	LIFELINE_TEST_PG=$$url $(CARGO) test $(WORKSPACE_TESTS) -- --ignored --skip console:: && \
	LIFELINE_TEST_PG=$$url $(CARGO) test $(WORKSPACE_TESTS) -- failover::; rc=$$?; \
	bash .ci/pg stop $$dir; rm -rf $$dir; exit $$rc

# The core must build for browsers, edge workers and Node.
wasm-check:
	$(CARGO) build --locked -p lifeline-core --features sign --target wasm32-unknown-unknown

# The WASM verifier through its JS API, in Node and in headless Chromium, over every vector.
wasm-test:
	$(CARGO) test --locked -p lifeline-wasm --target wasm32-unknown-unknown --test node
	$(CARGO) test --locked -p lifeline-wasm --target wasm32-unknown-unknown --test browser

# The admin console into dist/console (release: -Oz, LTO; CONSOLE_RELEASE=false: debug);
# prints the gzipped .wasm size.
console:
	TRUNK_SKIP_VERSION_CHECK=true trunk build --release $(CONSOLE_RELEASE)
	@for f in dist/console/*.wasm; do echo "console: $$f $$(wc -c < $$f) bytes, $$(gzip -9 -c $$f | wc -c) gzipped"; done

# The console's helpers in Node and its components in headless Chromium (wasm-bindgen-test).
console-test:
	$(CARGO) test --locked -p lifeline-console --target wasm32-unknown-unknown --test format
	$(CARGO) test --locked -p lifeline-console --target wasm32-unknown-unknown --test components

# The console end to end: a real server on a fresh SQLite, real headless Chromium over
# WebDriver. Screenshots and report.json land in target/console-e2e/.
console-e2e: console
	$(CARGO) test $(WORKSPACE_TESTS) -- --ignored --nocapture console::

# The npm package @lifeline/verifier, built into dist/npm/.
npm:
	bash crates/lifeline-wasm/npm/build.sh

# The package as users load it: require, import, edge-style initSync, browser module script,
# module worker and a webpack bundle in headless Chromium.
npm-test: npm
	$(CARGO) build --locked -q --workspace --exclude lifeline-console --bins
	LIFELINE_BIN=$(LIFELINE) FUZZ_VERDICTS_BIN=$(TARGET_DIR)/debug/fuzz-verdicts node --test tests/npm/

# Coverage-guided fuzzing (cargo-fuzz, fuzz/README.md), one target per core at a time: `make fuzz`
# runs each for FUZZ_SECONDS (default 300); `make fuzz-smoke` (part of `make test`) each for
# 15 s. Crashes land in fuzz/artifacts/ and fail the run; a machine that cannot build fuzz
# targets skips with one line saying why.
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

fuzz-smoke:
	bash fuzz/run.sh --smoke

# Verify speed: the npm package against Node crypto.verify, @noble/ed25519 and tweetnacl
# (one Node process, interleaved rounds, medians), then the native core against raw
# ed25519-dalek verify_strict. QUICK=1 for a short smoke run.
bench-verify: setup npm
	$(CARGO) build --locked -q -p lifeline-wasm --features bench-hooks --target wasm32-unknown-unknown --profile wasm-release
	wasm-bindgen --target nodejs --out-dir target/bench-wasm $(TARGET_DIR)/wasm32-unknown-unknown/wasm-release/lifeline_wasm.wasm
	wasm-opt -O3 target/bench-wasm/lifeline_wasm_bg.wasm -o target/bench-wasm/lifeline_wasm_bg.wasm
	node tests/npm/bench-verify.mjs $(if $(QUICK),--quick,)
	$(CARGO) bench --locked -q -p lifeline-core --bench verify -- $(if $(QUICK),--quick,)

# Every benchmark in one go (a few minutes): verify (WASM and native), provisioning 100,000
# licenses, validate under load (wrk) against a bare axum handler, the console's size and
# first render. Writes tests/bench/results/latest.{json,md}. QUICK=1: a smoke run (CI).
bench: setup
	$(MAKE) bench-verify QUICK=$(QUICK)
	$(CARGO) build --locked -q $(if $(QUICK),,--release) -p lifeline-cli
	$(CARGO) build --locked -q $(if $(QUICK),,--release) -p lifeline-server --example bare
	$(if $(QUICK),,$(MAKE) console-e2e)
	node tests/bench/bench.mjs $(if $(QUICK),--quick,)

# What CI asserts about `make bench QUICK=1`: well-formed results, not speed.
bench-check:
	node tests/bench/check.mjs

# Also part of `cargo test` (crates/lifeline-cli/tests/it/interop.rs).
interop:
	$(CARGO) build --locked -q -p lifeline-cli
	LIFELINE_BIN=$(LIFELINE) node --test tests/interop/

# Rewrite tests/vectors/{licenses,keysets} after changing the generator in tests/testkit.rs.
vectors:
	$(CARGO) run --locked -q -p lifeline-tests --bin regen-vectors

demo:
	$(CARGO) build --locked -q -p lifeline-cli
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== 1. Make a signing key"
	$(LIFELINE) keygen --kid demo-2026 --out $(DEMO_DIR)
	@echo '{"iss":"acme-vendor","sub":"customer-42","aud":"photo-pro","exp":4102444800,"entitlements":["export","raw"],"seats":5,"grace_s":604800}' > $(DEMO_DIR)/claims.json
	@echo "== 2. Issue a license for customer-42"
	$(LIFELINE) issue --key $(DEMO_DIR)/demo-2026.jwk --claims $(DEMO_DIR)/claims.json > $(DEMO_DIR)/license.jwt
	@cat $(DEMO_DIR)/license.jwt
	@echo "== 3. Verify it (exit 0: usable)"
	$(LIFELINE) verify --pretty --keys $(DEMO_DIR)/keys.json --aud photo-pro $(DEMO_DIR)/license.jwt
	@echo "== 4. Verify it as of one day after exp (state grace, still usable)"
	$(LIFELINE) verify --keys $(DEMO_DIR)/keys.json --at 4102531200 $(DEMO_DIR)/license.jwt
	@echo "== 5. Tamper with one character of the payload: refused (exit 1)"
	@sed 's/\(^[^.]*\.[^.]\{10\}\)./\1Q/' $(DEMO_DIR)/license.jwt > $(DEMO_DIR)/tampered.jwt
	@if $(LIFELINE) verify --keys $(DEMO_DIR)/keys.json $(DEMO_DIR)/tampered.jwt; then \
	  echo "demo: the tampered license was accepted"; exit 1; \
	else echo "(refused, as it must be)"; fi
	@echo "== Done. Files are in $(DEMO_DIR)/"
