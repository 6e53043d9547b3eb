# Issue 14, item 5: an output that is also an input of the job (the same path, the same path
# after realpath, a symbolic or hard link: the same inode) is a job-file error: exit 2 before
# any work, naming the key, and the input is left as it was.
source "$(dirname "$0")/common.sh"
printf '[simulate]\noutput = sim.h5\nstars = 20\nT = 32\n' > sim.ini
"$LCFM" simulate sim.ini > /dev/null
cp sim.h5 before.h5
printf 'not a checkpoint\n' > model.h5
mkdir -p sub
ln -s ../sim.h5 sub/link.h5
ln sim.h5 hard.h5
cat > job.ini <<INI
[model]
T = 32
[train]
store = sim.h5
checkpoint = model.h5
[embed]
store = sim.h5
checkpoint = model.h5
output = emb.h5
[probe]
store = sim.h5
embeddings = emb.h5
output = probe.h5
INI
expect_alias() { # verb, expected text, overrides...
  local verb=$1 expected=$2
  shift 2
  set +e
  run_np 2 "$LCFM" "$verb" "$@" job.ini > out.log 2> err.log; local code=$?
  set -e
  [ $code -eq 2 ] || { cat err.log; fail "$verb $*: exit $code, expected 2"; }
  grep -qF -- "$expected" err.log || { cat err.log; fail "$verb $*: stderr lacks '$expected'"; }
  cmp -s sim.h5 before.h5 || fail "$verb $*: the store was changed"
  grep -q "^not a checkpoint$" model.h5 || fail "$verb $*: the checkpoint was changed"
  [ -z "$(ls ./*.partial ./*.lock emb.h5 probe.h5 2>/dev/null)" ] || fail "$verb $*: wrote $(ls ./*.partial ./*.lock emb.h5 probe.h5 2>/dev/null)"
}
expect_alias embed "[embed] output: 'sim.h5' is also an input (embed.store = sim.h5)" -o embed.output=sim.h5
expect_alias embed "[embed] output: 'model.h5' is also an input (embed.checkpoint = model.h5)" -o embed.output=model.h5
expect_alias embed "[embed] output: './sim.h5' is also an input (embed.store = sim.h5)" -o embed.output=./sim.h5
expect_alias embed "[embed] output: 'sub/link.h5' is also an input (embed.store = sim.h5)" -o embed.output=sub/link.h5
expect_alias embed "[embed] output: 'hard.h5' is also an input (embed.store = sim.h5)" -o embed.output=hard.h5
expect_alias probe "[probe] output: 'sim.h5' is also an input (probe.store = sim.h5)" -o probe.output=sim.h5
expect_alias probe "[probe] output: 'emb.h5' is also an input (probe.embeddings = emb.h5)" -o probe.output=emb.h5
expect_alias train "[train] checkpoint: 'sim.h5' is also an input (train.store = sim.h5)" -o train.checkpoint=sim.h5
expect_alias train "[train] checkpoint: '$PWD/sim.h5' is also an input (train.store = sub/link.h5)" \
  -o train.checkpoint="$PWD/sim.h5" -o train.store=sub/link.h5
# lcfm run checks every stage the same way (the embed stage reads the store it would write).
printf '[run]\nstages = embed\n' >> job.ini
expect_alias run "[embed] output: 'sim.h5' is also an input (embed.store = sim.h5)" -o embed.output=sim.h5
echo "outputs that alias inputs are refused"
