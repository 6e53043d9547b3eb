# tiny_job.sh: writes tiny.ini, a job small enough for many runs of every writing verb
# (simulate, train, embed, probe) in a test; sourced after common.sh. Paths are relative to
# the directory the verbs run in.
cat > tiny.ini <<INI
[job]
seed = 3
[simulate]
output = sim.h5
stars = 40
instruments = 4
curves_per_star = 6
instrument_terms = 4
K = 5
T = 32
[model]
encoder = mlp
T = 32
mlp_hidden = 16
latent = 4
projection_hidden = 8
projection_dim = 4
decoder_hidden = 8
[train]
store = sim.h5
checkpoint = model.h5
batch_triplets = 8
steps = 100
validation_every = 25
validation_triplets = 16
patience = 1000
checkpoint_minutes = 0
[embed]
store = sim.h5
checkpoint = model.best.h5
output = emb.h5
[probe]
store = sim.h5
embeddings = emb.h5
output = probe.h5
mlp_steps = 20
sizes = 10 20
runs = 2
INI
