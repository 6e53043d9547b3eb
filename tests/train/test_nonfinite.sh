# Non-finite points: a store that holds one (ingest rejects them; this one was edited) is refused
# by train (causal and Astromer 2), embed and probe with exit 1, naming the store, the object and
# the point, before any output (embed used to give such an object the same constant latent as
# every other with exit 0, probe printed NaN with exit 0, and Astromer 2 blamed its input
# embedding). (What a non-finite loss says about checkpoints: test_train_loop.c.)
source "$(dirname "$0")/../cli/common.sh"
/usr/bin/python3 -c "import h5py" 2>/dev/null || { echo "SKIP: no h5py"; exit 77; }
write_tiny_conformer_job job.ini
"$LCFM" simulate job.ini > sim.log || { cat sim.log; fail "simulate"; }
"$LCFM" train job.ini > train.log || { cat train.log; fail "train"; }
/usr/bin/python3 - <<'PY' || fail "cannot edit the stores"
import h5py, numpy as np, shutil
shutil.copy("sim.h5", "nan.h5")
with h5py.File("nan.h5", "r+") as f:
    v = f["points/value"][...]
    v[45 * 40 + 17] = np.nan  # object 45, point 17
    f["points/value"][...] = v
PY
blamed="nan.h5: object 45 (id 45): point 17 of its 40 has a non-finite value (nan)"
refused() { # label, output that must not exist, command...
  local label=$1 output=$2
  shift 2
  set +e
  "$@" > "$label.log" 2>&1; code=$?
  set -e
  [ $code -eq 1 ] && grep -qF "$blamed" "$label.log" && [ ! -e "$output" ] && ! grep -q "input embedding" "$label.log" ||
    { cat "$label.log"; fail "$label: exit $code, expected 1 naming '$blamed'"; }
  echo "$label: refused"
}
refused train nan_model.h5 "$LCFM" train -o train.store=nan.h5 -o train.checkpoint=nan_model.h5 job.ini
refused astromer2 nan_astro.h5 "$LCFM" train -o model.kind=astromer2 -o train.store=nan.h5 -o train.checkpoint=nan_astro.h5 job.ini
refused embed nan_emb.h5 run_np 2 "$LCFM" embed -o embed.store=nan.h5 -o embed.output=nan_emb.h5 job.ini
"$LCFM" embed job.ini > embed.log || { cat embed.log; fail "embed"; }
refused probe nan_probe.h5 "$LCFM" probe -o probe.store=nan.h5 -o probe.output=nan_probe.h5 job.ini

echo "non-finite points refused by train, embed and probe"
