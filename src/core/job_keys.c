/* job_keys.c: every job-file key lcfm understands, with its default, bounds and meaning.
 * `lcfm keys` prints this table and the README's key reference is generated from it. */
#include "lcfm/job.h"

#define BIG 1e18

const lcfm_key_spec lcfm_job_keys[] = {
    /* [job]: applies to every verb */
    {"job", "name", LCFM_KEY_STRING, "lcfm", 0, 0, "label used in logs and provenance"},
    {"job", "seed", LCFM_KEY_INT, "1", 0, 9.2e18, "seed of every random stream (rng.h)"},

    /* [simulate]: the star x instrument simulator (DESIGN.md section 7, paper section 2) */
    {"simulate", "output", LCFM_KEY_STRING, NULL, 0, 0,
     "path of the light-curve store to write (written as PATH.partial, then renamed)"},
    {"simulate", "stars", LCFM_KEY_INT, "2000", 1, 1e12, "number of stars S"},
    {"simulate", "instruments", LCFM_KEY_INT, "17", 1, 1e6, "number of instruments M"},
    {"simulate", "curves_per_star", LCFM_KEY_INT, "20", 1, 1e6,
     "light curves per star; curve p of star s is seen by instrument (r_s + p) mod M"},
    {"simulate", "instrument_terms", LCFM_KEY_INT, "17", 1, 1e7,
     "terms J of the instrument series S_m and O_m (at most T)"},
    {"simulate", "K", LCFM_KEY_INT, "13", 2, 1e5, "theta has K entries: theta_0 sets the period, K-1 harmonics"},
    {"simulate", "T", LCFM_KEY_INT, "100", 1, 1e7, "points per light curve, at times 0..T-1 (steps)"},
    {"simulate", "alpha", LCFM_KEY_REAL, "2.0", 0, 10,
     "harmonic k has amplitude theta_k / k^alpha (the paper does not state it; lcfm's choice, see README)"},
    {"simulate", "lambda", LCFM_KEY_REAL, "0.05", 1e-9, 1e9,
     "period L_s = T exp(theta_0) lambda (the paper does not state it; median period 5 steps at T=100)"},
    {"simulate", "instrument_scale", LCFM_KEY_REAL, "0.05", 0, 1e3,
     "scale of the instrument series: S_m = 1 + scale*Re(...), O_m = scale*Re(...)"},
    {"simulate", "noise_sigma", LCFM_KEY_REAL, "0.03", 0, 1e3,
     "standard deviation of the added Gaussian noise; stored as every point's error"},
    {"simulate", "clip_min", LCFM_KEY_REAL, "-1", -BIG, BIG, "lower clip bound applied before noise"},
    {"simulate", "clip_max", LCFM_KEY_REAL, "1", -BIG, BIG, "upper clip bound applied before noise"},
    {"simulate", "stars_per_field", LCFM_KEY_INT, "100", 1, 1e12,
     "the field (shard key) of star s is s / stars_per_field"},
    {"simulate", "block_stars", LCFM_KEY_INT, "256", 1, 1e7,
     "stars each rank simulates and writes per collective write (memory per rank ~ block)"},

    /* [ingest]: survey files into a store (survey.h) */
    {"ingest", "output", LCFM_KEY_STRING, NULL, 0, 0,
     "path of the light-curve store to write (written as PATH.partial, then renamed)"},
    {"ingest", "inputs", LCFM_KEY_STRING, NULL, 0, 0,
     "whitespace-separated directories, glob patterns, files, or @manifest files (one path or pattern per line)"},
    {"ingest", "flux", LCFM_KEY_STRING, "pdcsap", 0, 0, "FITS flux column: pdcsap (PDCSAP_FLUX) or sap (SAP_FLUX)"},
    {"ingest", "quality_mask", LCFM_KEY_INT, "175", 0, 2147483647,
     "FITS points with (QUALITY & mask) != 0 are dropped (175: bits 1, 2, 4, 8, 32, 128)"},
    {"ingest", "min_points", LCFM_KEY_INT, "1", 1, 1e9, "objects with fewer kept points are rejected as empty"},
    {"ingest", "block_objects", LCFM_KEY_INT, "1024", 1, 1e8,
     "objects each rank buffers per collective write (memory per rank ~ block)"},

    /* [model]: the causal dual-encoder model and its baseline (models.h) */
    {"model", "kind", LCFM_KEY_STRING, "causal", 0, 0, "causal (two encoders) or baseline (one latent, same-star contrast only)"},
    {"model", "encoder", LCFM_KEY_STRING, "conformer", 0, 0, "conformer (Conformer blocks + LSTM) or mlp"},
    {"model", "T", LCFM_KEY_INT, "100", 2, 100000, "window length in points (longer curves are cut, shorter padded)"},
    {"model", "d_model", LCFM_KEY_INT, "64", 2, 4096, "Conformer width"},
    {"model", "heads", LCFM_KEY_INT, "4", 1, 64, "attention heads (divide d_model)"},
    {"model", "feed_forward", LCFM_KEY_INT, "128", 1, 65536, "Conformer feed-forward width"},
    {"model", "blocks", LCFM_KEY_INT, "4", 1, 64, "Conformer blocks per encoder"},
    {"model", "kernel", LCFM_KEY_INT, "31", 1, 1001, "depthwise convolution kernel (odd)"},
    {"model", "latent", LCFM_KEY_INT, "20", 1, 4096, "size of each latent (z_star, z_instr, or z)"},
    {"model", "mlp_hidden", LCFM_KEY_INT, "256", 1, 65536, "hidden width of the mlp encoder"},
    {"model", "projection_hidden", LCFM_KEY_INT, "64", 1, 65536, "hidden width of the projection heads"},
    {"model", "projection_dim", LCFM_KEY_INT, "32", 1, 65536, "output of the projection heads (InfoNCE space)"},
    {"model", "decoder_hidden", LCFM_KEY_INT, "64", 1, 65536, "width of the decoder branches and their product"},
    {"model", "dropout", LCFM_KEY_REAL, "0", 0, 0.95, "dropout probability in the Conformer blocks"},
    {"model", "tau", LCFM_KEY_REAL, "0.1", 1e-4, 100, "InfoNCE temperature"},
    {"model", "weight_recon", LCFM_KEY_REAL, "1", 0, 1e6, "weight of the reconstruction MSE"},
    {"model", "weight_star", LCFM_KEY_REAL, "1", 0, 1e6, "weight of the same-star InfoNCE"},
    {"model", "weight_instr", LCFM_KEY_REAL, "1", 0, 1e6, "weight of the same-instrument InfoNCE (causal only)"},

    /* [train]: data-parallel training of the causal model (lcfm train) */
    {"train", "store", LCFM_KEY_STRING, NULL, 0, 0, "light-curve store to train on (lcfm simulate or lcfm ingest)"},
    {"train", "checkpoint", LCFM_KEY_STRING, NULL, 0, 0,
     "checkpoint path (HDF5); the best-by-validation one is written beside it as NAME.best.h5"},
    {"train", "batch_triplets", LCFM_KEY_INT, "64", 1, 1048576, "global batch in triplets (3 light curves each), split over ranks"},
    {"train", "steps", LCFM_KEY_INT, "1000", 0, 1e12, "optimizer steps at most (early stopping may end sooner)"},
    {"train", "learning_rate", LCFM_KEY_REAL, "1e-3", 0, 10, "Adam learning rate"},
    {"train", "weight_decay", LCFM_KEY_REAL, "0", 0, 10, "AdamW decoupled weight decay (0: Adam)"},
    {"train", "max_grad_norm", LCFM_KEY_REAL, "0", 0, 1e12, "clip the global gradient norm to this (0: no clipping)"},
    {"train", "validation_fraction", LCFM_KEY_REAL, "0.1", 0, 0.9, "fraction of sources held out for validation"},
    {"train", "validation_every", LCFM_KEY_INT, "50", 1, 1e12, "steps between validation evaluations"},
    {"train", "validation_triplets", LCFM_KEY_INT, "256", 1, 1e9, "validation triplets per evaluation (a fixed set)"},
    {"train", "patience", LCFM_KEY_INT, "10", 1, 1e9, "stop after this many evaluations without a better validation loss"},
    {"train", "checkpoint_minutes", LCFM_KEY_REAL, "10", 0, 1e6, "write a checkpoint at least this often (0: only at the end)"},
    {"train", "log_every", LCFM_KEY_INT, "10", 1, 1e12, "steps between progress lines"},
    {"train", "threads", LCFM_KEY_INT, "1", 1, 1024, "OpenMP threads per rank (OpenBLAS stays single-threaded)"},
    {"train", "resume", LCFM_KEY_BOOL, "true", 0, 0, "continue from the checkpoint if it exists"},

    /* [embed]: per-object latents through a checkpoint (embed.h) */
    {"embed", "store", LCFM_KEY_STRING, NULL, 0, 0, "light-curve store to embed"},
    {"embed", "checkpoint", LCFM_KEY_STRING, NULL, 0, 0, "trained checkpoint ([model] keys must match it)"},
    {"embed", "output", LCFM_KEY_STRING, NULL, 0, 0, "embedding store to write (PATH.partial, then renamed)"},
    {"embed", "block_objects", LCFM_KEY_INT, "1024", 1, 1e8, "objects each rank reads and writes per collective step"},
    {"embed", "batch_windows", LCFM_KEY_INT, "256", 1, 1e7, "windows per encoder call"},

    /* [probe]: what the latents know (probe.h) */
    {"probe", "store", LCFM_KEY_STRING, NULL, 0, 0, "light-curve store with the target (/truth or labels)"},
    {"probe", "embeddings", LCFM_KEY_STRING, NULL, 0, 0, "embedding store of the causal model (z_star, z_instr) or of any model"},
    {"probe", "baseline_embeddings", LCFM_KEY_STRING, "", 0, 0, "embedding store of the baseline model (z), optional"},
    {"probe", "output", LCFM_KEY_STRING, NULL, 0, 0, "probe store to write (PATH.partial, then renamed)"},
    {"probe", "target", LCFM_KEY_STRING, "theta0", 0, 0, "thetaK (column K of /truth/theta, by source) or label"},
    {"probe", "sizes", LCFM_KEY_STRING, "10 20 50 100 200 500 1000 2000", 0, 0, "training sizes of the MLP probe (objects)"},
    {"probe", "runs", LCFM_KEY_INT, "5", 1, 1000, "draws of the training set per size"},
    {"probe", "test_fraction", LCFM_KEY_REAL, "0.2", 0.01, 0.9, "fraction of sources held out as the test set"},
    {"probe", "test_objects", LCFM_KEY_INT, "4000", 10, 1e9, "at most this many test objects for the MLP probe"},
    {"probe", "raw_points", LCFM_KEY_INT, "100", 1, 100000, "values of each light curve used as the raw input"},
    {"probe", "mlp_hidden", LCFM_KEY_INT, "64", 1, 65536, "hidden width of the MLP probe"},
    {"probe", "mlp_steps", LCFM_KEY_INT, "1000", 1, 1e9, "AdamW steps of the MLP probe"},
    {"probe", "mlp_batch", LCFM_KEY_INT, "64", 1, 1e6, "mini-batch of the MLP probe"},
    {"probe", "linear_max_classes", LCFM_KEY_INT, "1024", 2, 1e6, "instrument-ID linear probe only up to this many instruments (it holds objects x instruments doubles)"},
};

const int lcfm_job_key_count = (int)(sizeof lcfm_job_keys / sizeof lcfm_job_keys[0]);
