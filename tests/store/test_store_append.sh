# Appending to a store ([store] mode = append) and compressing it ([store] compression):
#  - a simulated store appended to (at another rank count) equals, dataset by dataset, the store
#    simulated with all its stars at once: ids continue, /truth and /index follow;
#  - compressed stores (shuffle + deflate) hold the same data as uncompressed ones, at 1 and 2 ranks;
#  - an append that does not continue the same simulation is refused naming the file and the key,
#    and leaves the store byte for byte as it was; so does an append to a schema-1 store (h5py);
#  - SIGKILL during an append leaves the store byte for byte as it was, it still opens, and the
#    next append succeeds.
source "$(dirname "$0")/../cli/common.sh"
job() { # job NAME OUTPUT STARS [extra lines]
  printf '[job]\nseed = 5\n[simulate]\noutput = %s\nstars = %s\ninstruments = 4\ncurves_per_star = 3\n' "$2" "$3" > "$1"
  printf 'instrument_terms = 4\nK = 5\nT = 48\nstars_per_field = 7\nblock_stars = 5\n%s' "${4:-}" >> "$1"
}
datasets() { h5ls -r "$1" | awk '$2 == "Dataset" {print $1}'; }
# same_data A B: every dataset of B exists in A with the same values and attributes (h5diff).
same_data() {
  local d n=0
  for d in $(datasets "$2"); do
    h5diff -q "$1" "$2" "$d" "$d" || fail "$1 and $2 differ in $d"
    n=$((n + 1))
  done
  [ "$(datasets "$1" | wc -l)" -eq "$n" ] || fail "$1 and $2 do not hold the same datasets"
  [ "$n" -gt 40 ] || fail "only $n datasets compared"
}

job whole.ini whole.h5 30
job first.ini grown.h5 18
job more.ini grown.h5 12 $'[store]\nmode = append\n'
run_np 2 "$LCFM" simulate whole.ini > /dev/null
run_np 2 "$LCFM" simulate first.ini > /dev/null
run_np 1 "$LCFM" simulate more.ini > append.log
same_data whole.h5 grown.h5
h5dump -a /truth/stars grown.h5 | grep -q '(0): 30' || fail "/truth stars is not 30 after the append"
h5dump -a /next_id grown.h5 | grep -q '(0): 90' || fail "next_id is not 90 after the append"
"$LCFM" info grown.h5 > info.log || fail "lcfm info cannot read the appended store"

for ranks in 1 2; do
  job deflate.ini deflate$ranks.h5 30 $'[store]\ncompression = deflate\ndeflate_level = 6\n'
  run_np $ranks "$LCFM" simulate deflate.ini > /dev/null
  same_data whole.h5 deflate$ranks.h5
  h5dump -p -H -d /points/value deflate$ranks.h5 | grep -q DEFLATE || fail "deflate$ranks.h5 is not compressed"
done
job deflate_more.ini deflate2.h5 12 $'[store]\nmode = append\n'
job deflate_first.ini deflate_grown.h5 18 $'[store]\ncompression = deflate\n'
run_np 2 "$LCFM" simulate deflate_first.ini > /dev/null
job deflate_more.ini deflate_grown.h5 12 $'[store]\nmode = append\n'
run_np 2 "$LCFM" simulate deflate_more.ini > /dev/null
same_data whole.h5 deflate_grown.h5
h5dump -p -H -d /points/time deflate_grown.h5 | grep -q DEFLATE || fail "the append did not keep the compression"

# A job that does not continue the simulation is refused; the store is untouched.
cp grown.h5 before.h5
job other.ini grown.h5 5 $'K = 7\n[store]\nmode = append\n'
sed -i '/^K = 5$/d' other.ini
if run_np 2 "$LCFM" simulate other.ini > other.log 2>&1; then fail "an append with another K was accepted"; fi
grep -q "grown.h5: \[simulate\] K is 7 but the store was simulated with 5" other.log || { cat other.log; fail "refusal does not name the file and key"; }
cmp -s grown.h5 before.h5 || fail "a refused append changed the store"
[ ! -e grown.h5.partial ] || fail "a refused append left grown.h5.partial"
job missing.ini missing.h5 5 $'[store]\nmode = append\n'
if "$LCFM" simulate missing.ini > missing.log 2>&1; then fail "an append to a missing store was accepted"; fi
grep -q "missing.h5: cannot append: no such lcfm store" missing.log || fail "append to a missing store: $(cat missing.log)"

# Schema 1 (an older lcfm's store): read by everything, refused for appending with what to do.
if /usr/bin/python3 -c 'import h5py' 2> /dev/null; then
  cp whole.h5 old.h5
  /usr/bin/python3 -c 'import h5py, sys; h5py.File(sys.argv[1], "r+").attrs["schema_version"] = 1' old.h5
  cp old.h5 old_before.h5
  job old.ini old.h5 5 $'[store]\nmode = append\n'
  if "$LCFM" simulate old.ini > old.log 2>&1; then fail "an append to a schema-1 store was accepted"; fi
  grep -q "old.h5: a schema-1 store .* cannot be appended to: write it again with this lcfm" old.log ||
    fail "schema-1 refusal: $(cat old.log)"
  cmp -s old.h5 old_before.h5 || fail "a refused append changed the schema-1 store"
fi

# SIGKILL in the middle of an append: the store is the one before, byte for byte.
job big.ini grown.h5 20000 $'[store]\nmode = append\n'
setsid "$MPIEXEC" --oversubscribe -np 2 "$LCFM" simulate big.ini > big.log 2>&1 &
pid=$!
for _ in $(seq 1 400); do
  [ -f grown.h5.partial ] && [ "$(stat -c %s grown.h5.partial)" -gt "$(stat -c %s grown.h5)" ] && break
  sleep 0.02
done
[ -f grown.h5.partial ] || fail "no partial file appeared"
kill -KILL -- -$pid 2> /dev/null || kill -KILL $pid
wait $pid 2> /dev/null || true
sleep 0.5
grep -q SUCCESS big.log && fail "the append finished before it was killed; make it bigger"
cmp -s grown.h5 before.h5 || fail "a killed append changed the store"
"$LCFM" info grown.h5 > killed_info.log || fail "the store does not open after a killed append"
run_np 2 "$LCFM" simulate more.ini > rerun.log || fail "the append after a killed one failed"
h5dump -a /truth/stars grown.h5 | grep -q '(0): 42' || fail "/truth stars is not 42 after the next append"
[ ! -e grown.h5.partial ] || fail "a stale grown.h5.partial was left"
echo "appends continue the store, compression keeps the data, refused and killed appends change nothing"
