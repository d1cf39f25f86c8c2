#!/usr/bin/env bash
# Runs the fuzz targets, one per core at a time (cargo-fuzz / libFuzzer); see fuzz/README.md.
#
#   fuzz/run.sh [TARGET...]             each target for FUZZ_SECONDS (default 300)  = make fuzz
#   fuzz/run.sh --smoke [TARGET...]     each target for FUZZ_SMOKE_SECONDS (15), dev build = make fuzz-smoke
#   fuzz/run.sh --runs N [TARGET...]    each target for exactly N executions
#   fuzz/run.sh --merge [TARGET...]     add the inputs found (fuzz/target/corpus) that bring new
#                                       coverage to the committed corpus fuzz/corpus (minimized)
#
# Env: FUZZ_SANITIZER (none | address; default none: the code under test forbids `unsafe`),
# FUZZ_JOBS_NICE (default 19), FUZZ_PARALLEL (targets at once; default: the cores). The committed corpus fuzz/corpus/<t> is read only; what a run
# finds goes to fuzz/target/corpus/<t>; crashes go to fuzz/artifacts/<t>/ and fail the run.
#
# When this machine cannot build fuzz targets (no cargo-fuzz, no C++ compiler for libFuzzer,
# a toolchain that refuses the coverage flags), it prints one line saying why and exits 0.
set -euo pipefail
cd "$(dirname "$0")"

mode=time
seconds=${FUZZ_SECONDS:-300}
runs=
profile=()
case "${1:-}" in
  # The smoke run builds the dev profile (crypto optimized): half the compile time.
  --smoke) mode=time; seconds=${FUZZ_SMOKE_SECONDS:-15}; profile=(--dev); shift ;;
  --runs) mode=runs; runs=$2; shift 2 ;;
  --merge) mode=merge; shift ;;
esac
sanitizer=${FUZZ_SANITIZER:-none}
nice_level=${FUZZ_JOBS_NICE:-19}

skip() { echo "fuzz: SKIPPED: $*"; exit 0; }

command -v cargo-fuzz >/dev/null || skip "cargo-fuzz is not installed (cargo install cargo-fuzz --locked --version 0.13.2)"
command -v c++ >/dev/null || command -v clang++ >/dev/null || skip "no C++ compiler to build libFuzzer (apt-get install g++)"

# The toolchain: stable with RUSTC_BOOTSTRAP=1 (accepts the -Z flags cargo-fuzz passes for
# sanitizers), else nightly when installed. Probe with the coverage flags cargo-fuzz uses.
probe() {
  local dir flags=(-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing)
  [ "$sanitizer" = none ] || flags+=("-Zsanitizer=$sanitizer")
  dir=$(mktemp -d)
  echo 'pub fn probe(x: u32) -> bool { x == 7 }' > "$dir/probe.rs"
  # Compile only (no link: the coverage runtime comes with libFuzzer).
  if RUSTC_BOOTSTRAP=1 rustc "$@" --edition 2021 --crate-type lib --emit obj "${flags[@]}" -o "$dir/probe.o" "$dir/probe.rs" >/dev/null 2>&1; then
    rm -rf "$dir"; return 0
  fi
  rm -rf "$dir"; return 1
}
toolchain=()
if probe; then
  export RUSTC_BOOTSTRAP=1
elif rustup toolchain list 2>/dev/null | grep -q '^nightly' && probe +nightly; then
  toolchain=(+nightly)
else
  skip "rustc $(rustc --version | awk '{print $2}') refuses the coverage flags (sanitizer $sanitizer), even with RUSTC_BOOTSTRAP=1, and no nightly toolchain is installed"
fi

# The lock file is the committed one (cargo fuzz has no --locked): fail if it would change.
cargo "${toolchain[@]}" metadata --locked --offline --format-version 1 >/dev/null || {
  echo "fuzz: fuzz/Cargo.lock is out of date (a path crate changed its dependencies):" \
    "run 'cargo metadata --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null' and commit fuzz/Cargo.lock"
  exit 1
}
all=$(cargo "${toolchain[@]}" fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<<"$all"

build=(cargo "${toolchain[@]}" fuzz build "${profile[@]}" -s "$sanitizer")
echo "fuzz: ${toolchain[*]:-stable (RUSTC_BOOTSTRAP=1)}, sanitizer $sanitizer: ${build[*]}"
start=$(date +%s)
nice -n "$nice_level" "${build[@]}"
echo "fuzz: built in $(($(date +%s) - start)) s"

mkdir -p target/logs
# Each target is one libFuzzer process on one core: FUZZ_PARALLEL of them run at once (default:
# the machine's cores), each for its full time or runs. Merging stays one at a time.
parallel=${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}
[ "$mode" = merge ] && parallel=1

# Runs target $1; its summary line goes to target/logs/$1.summary. Exit: libFuzzer's.
fuzz_one() {
  local t=$1 log="target/logs/$1.log" limit t0 rc=0 execs secs
  mkdir -p "target/corpus/$t" "corpus/$t" "artifacts/$t"
  local run=(cargo "${toolchain[@]}" fuzz run "${profile[@]}" -s "$sanitizer" "$t")
  case $mode in
    merge)
      nice -n "$nice_level" "${run[@]}" "corpus/$t" "target/corpus/$t" -- -merge=1 -max_len=8192 >"$log" 2>&1 || { tail -20 "$log"; return 1; }
      echo "fuzz: $t: corpus/$t now $(ls "corpus/$t" | wc -l) files"
      return 0 ;;
    runs) limit=(-runs="$runs") ;;
    *) limit=(-max_total_time="$seconds") ;;
  esac
  echo "fuzz: $t (${limit[*]})"
  t0=$(date +%s)
  nice -n "$nice_level" "${run[@]}" "target/corpus/$t" "corpus/$t" -- \
    "${limit[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -1)
  secs=$(($(date +%s) - t0))
  if [ "$rc" != 0 ]; then
    echo "fuzz: $t FAILED (exit $rc): crash input in fuzz/artifacts/$t/, log $PWD/$log"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -10 || true
  fi
  printf '%-18s %6s s %14s execs %9s exec/s  %s\n' "$t" "$secs" "${execs:-?}" \
    "$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$([ "$rc" = 0 ] && echo ok || echo CRASH)" >"target/logs/$t.summary"
  return "$rc"
}

failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

[ "$mode" = merge ] && exit "$failed"
echo "fuzz: summary (logs in fuzz/target/logs/; $parallel at a time)"
for t in "${targets[@]}"; do printf '  %s\n' "$(cat "target/logs/$t.summary" 2>/dev/null || echo "$t: no summary")"; done
exit "$failed"
