#!/usr/bin/env bash
# The fuzz targets in CI: builds every target once, then runs each for FUZZ_SECONDS
# (default 30) over its committed corpus. Fails on any crash, timeout (10 s on one
# input) or memory blow-up (2 GB). New inputs go to a scratch directory, so the
# committed corpus is only read; a failing input is kept in fuzz/artifacts/<target>/.
#
# cargo-fuzz needs nightly features: they are enabled on the stable toolchain with
# RUSTC_BOOTSTRAP=1. The build is cargo-fuzz's release one (debug assertions on)
# without a sanitizer (see docs/fuzzing.md for the measurements and why not a debug
# build); FUZZ_TARGET_DIR (default fuzz/target) is where it goes.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-30}"
target_dir="${FUZZ_TARGET_DIR:-target}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

started=$(date +%s)
cargo fuzz build --sanitizer none --target-dir "$target_dir"
echo "built the fuzz targets in $(($(date +%s) - started)) s"

bin_dir="$target_dir/$(rustc -vV | sed -n 's/^host: //p')/release"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target" "artifacts/$target"
  echo "==> $target for ${seconds} s"
  if ! "$bin_dir/$target" "$scratch/$target" "corpus/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 \
    >"$scratch/$target.log" 2>&1; then
    failed+=("$target")
    tail -n 60 "$scratch/$target.log"
    echo "$target failed: the input is in fuzz/artifacts/$target/" >&2
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$scratch/$target.log" \
      | sed "s/^/    /"
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}" >&2
  exit 1
fi
echo "every fuzz target ran ${seconds} s without a failure ($(($(date +%s) - started)) s in all)"
