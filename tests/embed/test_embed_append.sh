# [embed] mode = append after a store append: the embeddings of the first 40 stars are extended
# with those of the 20 appended stars, and equal (to float rounding) the embeddings of the grown
# store made anew; probe accepts them with the grown store. Refusals: another model's
# embeddings, a missing output (exit 2), astromer2.
source "$(dirname "$0")/../cli/common.sh"
source "$(dirname "$0")/../cli/tiny_job.sh"
run_np 2 "$LCFM" simulate tiny.ini > /dev/null
"$LCFM" train -o train.steps=30 tiny.ini > /dev/null
run_np 2 "$LCFM" embed tiny.ini > /dev/null
cp emb.h5 emb_first.h5
run_np 2 "$LCFM" simulate -o store.mode=append -o simulate.stars=20 tiny.ini > /dev/null
run_np 2 "$LCFM" embed -o embed.mode=append tiny.ini > append.log
grep -q "240 objects already embedded in emb.h5, 120 to add" append.log || fail "append did not add 120 objects: $(cat append.log)"
run_np 1 "$LCFM" embed -o embed.output=whole.h5 tiny.ini > /dev/null
for d in /objects/id /objects/source /objects/instrument /objects/field /objects/label; do
  h5diff -q emb.h5 whole.h5 $d $d || fail "$d differs between the appended and the whole embeddings"
done
h5diff -q --delta=1e-5 emb.h5 whole.h5 /z_star /z_star || fail "/z_star differs beyond rounding"
h5diff -q --delta=1e-5 emb.h5 whole.h5 /z_instr /z_instr || fail "/z_instr differs beyond rounding"
h5ls emb_first.h5/z_star | grep -q "{240/Inf, 4}" && h5ls emb.h5/z_star | grep -q "{360/Inf, 4}" ||
  fail "the embeddings did not grow from 240 to 360 rows"
rows_of() { h5dump -d "$2" "$1" | sed -n '/DATA {/,$p'; } # rows_of FILE DATASET[SUBSET]
for d in "/objects/id[0;;240]" "/z_star[0,0;;240,4]" "/z_instr[0,0;;240,4]"; do # the first 240 rows are kept
  [ "$(rows_of emb_first.h5 "$d")" = "$(rows_of emb.h5 "$d")" ] || fail "the append changed $d"
done
"$LCFM" probe -o probe.sizes=10 -o probe.runs=1 tiny.ini > probe.log 2>&1 || fail "probe refused the appended embeddings: $(tail -3 probe.log)"
# Nothing new: an append adds nothing and keeps the rows.
run_np 2 "$LCFM" embed -o embed.mode=append tiny.ini > again.log
grep -q "360 objects already embedded in emb.h5, 0 to add" again.log || fail "a second append: $(cat again.log)"
# Refusals.
cp emb.h5 before.h5
"$LCFM" train -o train.steps=30 -o train.checkpoint=other.h5 -o model.mlp_hidden=12 tiny.ini > /dev/null
if "$LCFM" embed -o embed.mode=append -o embed.checkpoint=other.best.h5 -o model.mlp_hidden=12 tiny.ini > other.log 2>&1; then
  fail "an append with another model was accepted"
fi
grep -q "emb.h5: made by another model" other.log || fail "refusal: $(tail -3 other.log)"
cmp -s emb.h5 before.h5 || fail "a refused append changed emb.h5"
set +e
"$LCFM" embed -o embed.mode=append -o embed.output=missing.h5 tiny.ini > missing.log 2>&1
code=$?
set -e
[ $code -eq 2 ] && grep -q "missing.h5 does not exist" missing.log || fail "append to a missing output: exit $code, $(cat missing.log)"
echo "embed appends the objects not yet embedded"
