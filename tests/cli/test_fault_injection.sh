# Issue 14, fault injection: for each writing verb (simulate, ingest when the sample data is
# there, train, embed, probe), kill -9 at 10 random moments of a run and fill the disk at 5
# sizes (a small tmpfs; root only, skipped with a message otherwise). Before each try the output
# holds another run's file; after it, the final name holds either that file untouched or one
# equal to an uninterrupted run's (never a corrupt or mixed one), no process is left, the exit
# code is 137 (killed) or 0, or 1 with "No space left on device: NAME.partial" and nothing left
# on the full disk. A rerun after the kills takes over the stale lock and partial. Prints the
# counts.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/tiny_job.sh"
DATA=${LCFM_SHARED_DATA:-}
verbs="simulate train embed probe"
if [ -n "$DATA" ] && [ -d "$DATA/macho" ]; then
  printf '[ingest]\noutput = ing.h5\ninputs = %s\n' "$DATA/macho/*.csv" > ingest.ini
  verbs="simulate ingest train embed probe"
else
  echo "no sample data (LCFM_SHARED_DATA): ingest is left out"
fi
root=0
if [ "$(id -u)" -eq 0 ] && mkdir -p small && mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
  root=1
  trap 'umount "$WORK/small" 2>/dev/null || true' EXIT
else
  echo "not root (or no mount): the full-disk tries are skipped"
fi
job_of() { [ "$1" = ingest ] && echo ingest.ini || echo tiny.ini; }
output_of() { case $1 in simulate) echo sim.h5 ;; ingest) echo ing.h5 ;; train) echo model.h5 ;; embed) echo emb.h5 ;; probe) echo probe.h5 ;; esac; }
dataset_of() { case $1 in simulate | ingest) echo /points/value ;; train) echo /params ;; embed) echo /z_star ;; probe) echo /mlp/r2 ;; esac; }
key_of() { case $1 in simulate) echo simulate.output ;; ingest) echo ingest.output ;; train) echo train.checkpoint ;; embed) echo embed.output ;; probe) echo probe.output ;; esac; }
# The uninterrupted runs (the references) and another run's file of each output (seed 9).
for verb in $verbs; do
  out=$(output_of $verb)
  start=$(date +%s%N)
  "$LCFM" $verb "$(job_of $verb)" > "ref-$verb.log" 2>&1 || { cat "ref-$verb.log"; fail "$verb: the reference run"; }
  echo $(( ($(date +%s%N) - start) / 1000000 )) > "ms-$verb"
  cp "$out" "ref-$out"
  [ $verb = train ] && cp model.best.h5 ref-model.best.h5
  "$LCFM" $verb -o job.seed=9 -o "$(key_of $verb)=other-$out" "$(job_of $verb)" > /dev/null 2>&1 ||
    fail "$verb: the other run"
done
[ -f other-model.best.h5 ] && rm other-model.best.h5
is_reference() { # verb, file
  h5diff -q "ref-$(output_of $1)" "$2" "$(dataset_of $1)" "$(dataset_of $1)" > /dev/null 2>&1
}
extra_of() { [ "$1" = train ] && echo "-o train.resume=false" || true; } # every try starts afresh
# live members only (a zombie is dead, waiting for PID 1 to reap it)
group_gone() { for _ in $(seq 1 60); do pgrep -g "$1" -r D,R,S,T,t > /dev/null || return 0; sleep 0.05; done; return 1; }
killed=0 writing=0 finished=0 full=0 fit=0
for verb in $verbs; do
  out=$(output_of $verb) job=$(job_of $verb) ms=$(cat "ms-$verb")
  for try in $(seq 1 10); do
    cp "other-$out" "$out"
    [ $verb = train ] && rm -f model.best.h5
    setsid "$LCFM" $verb $(extra_of $verb) "$job" > try.log 2>&1 & pid=$!
    # A random moment in the later part of a run (its start is MPI's and the job's loading).
    sleep "$(awk -v r=$RANDOM -v ms="$ms" 'BEGIN { printf "%.3f", (0.3 + 0.8 * r / 32768) * ms / 1000 }')"
    kill -KILL -- -$pid 2>/dev/null || true
    set +e
    { wait $pid; } 2> /dev/null; code=$?
    set -e
    # its own process group (setsid): gone within 3 s (a loaded machine reaps slowly)
    group_gone "$pid" || fail "$verb try $try: a process was left"
    if [ $code -eq 137 ]; then
      killed=$((killed + 1))
      [ -n "$(ls "$out".partial model.best.h5.partial 2>/dev/null)" ] && writing=$((writing + 1))
    elif [ $code -eq 0 ]; then
      finished=$((finished + 1))
    else
      cat try.log; fail "$verb try $try: exit $code, expected 137 (killed) or 0"
    fi
    if cmp -s "$out" "other-$out"; then :; elif is_reference $verb "$out"; then :; else
      fail "$verb try $try (exit $code): $out is neither the earlier file nor the uninterrupted run's"
    fi
    [ $code -ne 0 ] || is_reference $verb "$out" || fail "$verb try $try: finished with another $out"
    if [ $verb = train ] && [ -f model.best.h5 ]; then
      h5ls model.best.h5 > /dev/null || fail "train try $try: model.best.h5 does not open"
    fi
  done
  # A rerun takes over what the last kill left (its lock and partial) and ends as the reference.
  rm -f "$out"
  "$LCFM" $verb $(extra_of $verb) "$job" > rerun.log 2>&1 || { cat rerun.log; fail "$verb: the rerun after the kills"; }
  is_reference $verb "$out" || fail "$verb: the rerun differs from the uninterrupted run"
  [ -z "$(ls "$out".* 2>/dev/null)" ] || fail "$verb: the rerun left $(ls "$out".*)"
  [ $root -eq 1 ] || continue
  bytes=$(stat -c %s "ref-$out")
  for share in 10 30 60 90 300; do # percent of the output's size
    umount small
    mount -t tmpfs -o size=$(( bytes * share / 100 / 4096 * 4096 + 4096 )) tmpfs small
    set +e
    timeout 60 "$LCFM" $verb $(extra_of $verb) -o "$(key_of $verb)=small/$out" "$job" > full.log 2>&1; code=$?
    set -e
    [ $code -ne 124 ] || fail "$verb at $share%: hung"
    if [ $code -eq 1 ]; then
      grep -q "No space left on device: small/.*\.partial" full.log || { cat full.log; fail "$verb at $share%: the message"; }
      [ -z "$(ls small)" ] || fail "$verb at $share%: left $(ls small)"
      full=$((full + 1))
    elif [ $code -eq 0 ]; then
      is_reference $verb "small/$out" || fail "$verb at $share%: the output differs from the uninterrupted run's"
      [ -z "$(ls small/*.partial small/*.lock 2>/dev/null)" ] || fail "$verb at $share%: left $(ls small/*.partial small/*.lock)"
      fit=$((fit + 1))
    else
      cat full.log; fail "$verb at $share%: exit $code"
    fi
  done
done
echo "fault injection: $killed runs killed ($writing while writing an output), $finished finished before the kill; full disk: $full refused, $fit fitted"
