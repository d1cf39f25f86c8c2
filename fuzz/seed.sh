#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed-* files made from the test vectors
# (tests/vectors/{licenses,keysets,ed25519}) and genuine tokens signed with the fuzz keys:
# see tests/fuzz_seeds.rs. Deterministic; the seeds are committed. Inputs the fuzzer found
# are added by `fuzz/run.sh --merge TARGET` (minimized), not by this script.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --locked -q -p lifeline-tests --bin fuzz-seeds -- fuzz/corpus
for d in fuzz/corpus/*/; do
  printf '%-40s %5d files %8d bytes\n' "$d" "$(ls "$d" | wc -l)" "$(cat "$d"* | wc -c)"
done
