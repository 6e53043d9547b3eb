#!/bin/bash
# run_fuzz.sh: runs one libFuzzer target for a given time on a fresh writable corpus seeded from
# read-only directories, and prints libFuzzer's summary (executions, coverage, corpus).
#   tests/fuzz/run_fuzz.sh TARGET SECONDS WORKDIR SEED_DIR...
# Exit 0 without a finding; otherwise libFuzzer's code, the crash input left in WORKDIR
# (replay it with NAME_replay WORKDIR/crash-*, then copy it to tests/fuzz/regressions/NAME/).
set -euo pipefail
target=$1 seconds=$2 work=$3; shift 3
rm -rf "$work"
mkdir -p "$work/corpus"
name=$(basename "$target")
options=(-max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
         -artifact_prefix="$work/")
# The job reader prints a message per bad key on stderr: keep libFuzzer's own output only.
[ "$name" = fuzz_job ] && options+=(-close_fd_mask=2 -max_len=4096 -dict="$(dirname "$0")/job.dict")
# The store target initialises MPI once, in its first input, and Open MPI keeps allocations to
# the end: neither is a leak of lcfm's.
if [ "$name" = fuzz_store ]; then
  options+=(-detect_leaks=0)
  export ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
fi
set +e
"$target" "${options[@]}" "$work/corpus" "$@" > "$work/fuzz.log" 2>&1
code=$?
set -e
grep -E "^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE))|^stat::|Done [0-9]+ runs|ERROR|invariant|SUMMARY" "$work/fuzz.log" || true
echo "$name: $(ls "$work/corpus" | wc -l) corpus inputs after ${seconds} s, exit $code"
if [ $code -ne 0 ]; then tail -40 "$work/fuzz.log"; fi
exit $code
