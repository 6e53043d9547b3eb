# common_probe.sh: a small simulated store, planted embeddings (make_embeddings.py) and a probe
# job with a quick MLP part, for the probe script tests. Sourced after tests/cli/common.sh.
# Arguments of make_probe_inputs go to lcfm simulate (e.g. -o simulate.lambda=0.1).
make_probe_inputs() {
  cat > job.ini <<'INI'
[job]
seed = 4
[simulate]
output = sim.h5
stars = 300
instruments = 6
curves_per_star = 4
T = 40
[probe]
store = sim.h5
embeddings = emb.h5
baseline_embeddings = emb.baseline.h5
output = probe.h5
sizes = 10 40
runs = 2
mlp_steps = 30
raw_points = 40
INI
  "$LCFM" simulate "$@" job.ini > simulate.log || { cat simulate.log; fail "simulate"; }
  /usr/bin/python3 "$SOURCE/tests/probe/make_embeddings.py" sim.h5 emb.h5 || fail "planted embeddings"
}
