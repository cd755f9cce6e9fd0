#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain
# (no nightly, no cargo-fuzz needed: the same flags cargo-fuzz passes, minus the sanitizer)
# and runs them. See README.md.
#
#   fuzz/run.sh build                 build every target
#   fuzz/run.sh ci [SECONDS]          each target SECONDS (default 20) from fuzz/corpus/<t>;
#                                     a crash fails and leaves its input in fuzz/artifacts/<t>/
#   fuzz/run.sh run TARGET [ARGS...]  one target, libFuzzer arguments passed on
#                                     (e.g. -runs=10000000 or -max_total_time=3600)
#   fuzz/run.sh list                  the target names
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$here/target"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cdebug-assertions -Coverflow-checks -Cforce-frame-pointers ${FUZZ_RUSTFLAGS:-}"
bin="$here/target/$triple/release"

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^meet-lan-fuzz$'; }

build() {
  # --target keeps build scripts and proc macros uninstrumented.
  cargo build --release ${FUZZ_LOCKED---locked} --target "$triple" --bins
}

run_one() {
  local t=$1; shift
  mkdir -p "corpus/$t" "artifacts/$t"
  # The fuzzer writes new inputs to a scratch folder, so the committed corpus only changes
  # when someone merges on purpose (README.md, "Growing the corpus").
  local scratch; scratch=$(mktemp -d)
  local rc=0
  "$bin/$t" -artifact_prefix="artifacts/$t/" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    "$@" "$scratch" "corpus/$t" || rc=$?
  rm -rf "$scratch"
  return $rc
}

case "${1:-}" in
  build) build ;;
  list) targets ;;
  run) shift; t=$1; shift; build; run_one "$t" "$@" ;;
  ci)
    secs=${2:-20}
    mkdir -p artifacts
    build
    failed=()
    for t in $(targets); do
      echo "== fuzz $t (${secs}s)"
      if ! run_one "$t" -max_total_time="$secs" 2>"artifacts/$t.log"; then
        tail -n 40 "artifacts/$t.log"
        failed+=("$t")
      else
        grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "artifacts/$t.log" | tail -n 2 || true
      fi
    done
    n=$(targets | wc -l)
    echo "fuzz: $((n - ${#failed[@]})) passed, ${#failed[@]} failed"
    if ((${#failed[@]})); then
      echo "fuzz: crash in ${failed[*]}: inputs in fuzz/artifacts/<target>/" >&2
      exit 1
    fi
    ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
