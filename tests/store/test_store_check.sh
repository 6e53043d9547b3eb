# A store is checked when it is opened (store_check.h): each damaged copy of a good store is
# refused by info (1 and 2 ranks) with exit 1, naming the file, the first broken object or
# column and the reason, and never prints statistics; train and embed refuse them before any
# work (an instrument id of -3 used to corrupt the heap after training printed SUCCESS, 99 was
# accepted everywhere; ragged columns gave a raw HDF5 extent error).
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
write_tiny_conformer_job job.ini simulate.T=64
"$LCFM" simulate job.ini > sim.log || { cat sim.log; fail "simulate"; }
run_np 2 "$LCFM" info sim.h5 > good.log 2>&1 || { cat good.log; fail "info of a good store, 2 ranks"; }
grep -q "points       5120 (per object: min 64, mean 64.0, max 64)" good.log || { cat good.log; fail "good store statistics"; }

/usr/bin/python3 "$SOURCE/tests/store/damage_store.py" sim.h5 instrument_99 instrument_negative label negative_length \
  overlap past_end short_points ragged float_instrument missing_error nan_value inf_time duplicate_id || fail "damage"
expect_refused() { # kind, expected text; 1 rank, and 2 when TWO_RANKS=1
  for n in 1 ${TWO_RANKS:+2}; do
    set +e
    if [ $n -eq 1 ]; then "$LCFM" info "$1.h5" > "$1.$n.log" 2>&1; else run_np $n "$LCFM" info "$1.h5" > "$1.$n.log" 2>&1; fi
    code=$?
    set -e
    [ $code -eq 1 ] || { cat "$1.$n.log"; fail "$1, $n ranks: info exit $code, expected 1"; }
    grep -qF "$1.h5: $2" "$1.$n.log" || { cat "$1.$n.log"; fail "$1, $n ranks: no '$2'"; }
    ! grep -q "^points" "$1.$n.log" || fail "$1: info printed statistics of a broken store"
  done
  echo "$1: $(grep -F "$1.h5:" "$1.1.log" | head -1)"
}
expect_refused instrument_99 "object 5 (id 5): instrument 99 is not a row of /instruments (4 rows)"
expect_refused instrument_negative "object 70 (id 70): instrument -3 is not a row of /instruments (4 rows)"
expect_refused label "object 9 (id 9): label -5"
expect_refused negative_length "object 11 (id 11): length -4 is negative"
TWO_RANKS=1 expect_refused overlap "object 40 (id 40): offset 2555, but the previous object's points end at 2560"
expect_refused past_end "object 79 (id 79): its points [5056, 5220) are not within /points (5120 rows)"
expect_refused short_points "ragged columns: /points/time has 5120 rows but /points/error has 5110"
expect_refused ragged "ragged columns: /objects/id has 80 rows but /objects/label has 10"
expect_refused float_instrument "/objects/instrument is not of integer type"
expect_refused missing_error "lcfm store without /points/error"
expect_refused nan_value "object 62 (id 62): point 32 of its 64 has a non-finite value (nan)"
expect_refused inf_time "object 40 (id 40): point 7 of its 64 has a non-finite time (inf)"
expect_refused duplicate_id "id 2 is used by more than one object"

# train and embed refuse before any work (2 ranks): no checkpoint, no embeddings.
"$LCFM" train job.ini > train.log || { cat train.log; fail "training on the good store"; }
set +e
run_np 2 "$LCFM" train -o train.store=instrument_negative.h5 -o train.checkpoint=bad.model.h5 job.ini > bad.train.log 2>&1
code=$?
set -e
[ $code -eq 1 ] && grep -q "instrument -3 is not a row of /instruments" bad.train.log && [ ! -e bad.model.h5 ] &&
  ! grep -q SUCCESS bad.train.log || { cat bad.train.log; fail "train on instrument -3: exit $code"; }
set +e
run_np 2 "$LCFM" embed -o embed.store=instrument_99.h5 -o embed.output=bad.emb.h5 job.ini > bad.embed.log 2>&1; code=$?
set -e
[ $code -eq 1 ] && grep -q "instrument 99 is not a row of /instruments" bad.embed.log && [ ! -e bad.emb.h5 ] &&
  [ ! -e bad.emb.h5.partial ] || { cat bad.embed.log; fail "embed of instrument 99: exit $code"; }
echo "every damaged store refused by info, train and embed"
