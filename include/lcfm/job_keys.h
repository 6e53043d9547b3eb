/* job_keys.h: every job-file key lcfm understands, in one table: its section, name, type,
 * default, bounds, allowed values and meaning.
 *
 * The table is a list of X-macros, one list per section, each entry
 *   X(section, key, TYPE, default, min, max, choices, doc)
 * TYPE is INT, REAL, BOOL or STRING; default NULL makes the key required whenever a verb uses
 * its section; min and max bound INT and REAL values (inclusive); choices, when not NULL, lists
 * the only values a STRING key may take ("a|b|c", checked when the job is loaded). job.h expands
 * the lists into the key table that checks job files (lcfm_job_keys) and into the typed settings
 * every module reads (lcfm_settings); `lcfm keys` prints the table, and the key table of
 * jobs/README.md is generated from it. Adding a key is one entry here.
 */
#ifndef LCFM_JOB_KEYS_H
#define LCFM_JOB_KEYS_H

#define LCFM_KEY_BIG 1e18

/* One entry per key, its documentation on the line below. */
/* clang-format off */

/* [job]: applies to every verb */
#define LCFM_KEYS_JOB(X) \
  X(job, name, STRING, "lcfm", 0, 0, NULL, \
    "label used in logs and provenance") \
  X(job, seed, INT, "1", 0, 9.2e18, NULL, \
    "seed of every random stream (rng.h)")

/* [simulate]: the star x instrument simulator (sim.h; the causal paper, section 2) */
#define LCFM_KEYS_SIMULATE(X) \
  X(simulate, output, STRING, NULL, 0, 0, NULL, \
    "path of the light-curve store to write (written as PATH.partial, then renamed)") \
  X(simulate, stars, INT, "2000", 1, 1e12, NULL, \
    "number of stars S") \
  X(simulate, instruments, INT, "17", 1, 1e6, NULL, \
    "number of instruments M") \
  X(simulate, curves_per_star, INT, "20", 1, 1e6, NULL, \
    "light curves per star; curve p of star s is seen by instrument (r_s + p) mod M") \
  X(simulate, instrument_terms, INT, "17", 1, 1e7, NULL, \
    "terms J of the instrument series S_m and O_m (at most T)") \
  X(simulate, K, INT, "13", 2, 1e5, NULL, \
    "theta has K entries: theta_0 sets the period, K-1 harmonics") \
  X(simulate, T, INT, "100", 1, 1e7, NULL, \
    "points per light curve, at times 0..T-1 (steps)") \
  X(simulate, alpha, REAL, "2.0", 0, 10, NULL, \
    "harmonic k has amplitude theta_k / k^alpha (the paper does not state it; lcfm's " \
    "choice, see jobs/README.md)") \
  X(simulate, lambda, REAL, "0.5", 1e-9, 1e9, NULL, \
    "period L_s = T exp(theta_0) lambda (the paper does not state it; 0.5: median period 50 " \
    "steps at T=100, alias bound 0.999; see jobs/README.md)") \
  X(simulate, instrument_scale, REAL, "0.05", 0, 1e3, NULL, \
    "scale of the instrument series: S_m = 1 + scale*Re(...), O_m = scale*Re(...)") \
  X(simulate, noise_sigma, REAL, "0.03", 0, 1e3, NULL, \
    "standard deviation of the added Gaussian noise; stored as every point's error") \
  X(simulate, clip_min, REAL, "-1", -LCFM_KEY_BIG, LCFM_KEY_BIG, NULL, \
    "lower clip bound applied before noise") \
  X(simulate, clip_max, REAL, "1", -LCFM_KEY_BIG, LCFM_KEY_BIG, NULL, \
    "upper clip bound applied before noise") \
  X(simulate, stars_per_field, INT, "100", 1, 1e12, NULL, \
    "the field (shard key) of star s is s / stars_per_field") \
  X(simulate, block_stars, INT, "256", 1, 1e7, NULL, \
    "stars each rank simulates and writes per collective write (memory per rank ~ block)") \
  X(simulate, mode, STRING, "causal", 0, 0, "causal|labelled", \
    "causal (the star x instrument model above) or labelled (variable-star classes in " \
    "magnitudes, MACHO-like seasons)") \
  X(simulate, classes, INT, "5", 2, 5, NULL, \
    "labelled: classes 0 sinusoidal, 1 sawtooth pulsator, 2 eclipsing binary, 3 long-period " \
    "variable, 4 damped random walk") \
  X(simulate, min_points, INT, "150", 2, 1e7, NULL, \
    "labelled: fewest observations of a light curve") \
  X(simulate, max_points, INT, "600", 2, 1e7, NULL, \
    "labelled: most observations of a light curve") \
  X(simulate, seasons, INT, "7", 1, 1000, NULL, \
    "labelled: observing seasons of 240 days with 125-day gaps")

/* [store]: how simulate and ingest write their light-curve store (store.h) */
#define LCFM_KEYS_STORE(X) \
  X(store, mode, STRING, "create", 0, 0, "create|append", \
    "create (write the store anew) or append (add the objects after those of the existing " \
    "store; ids continue)") \
  X(store, compression, STRING, "none", 0, 0, "none|deflate", \
    "none, or deflate (shuffle + deflate on every dataset; kept by later appends)") \
  X(store, deflate_level, INT, "4", 1, 9, NULL, \
    "deflate level when compression = deflate (1 fast .. 9 small)")

/* [ingest]: survey files into a store (survey.h) */
#define LCFM_KEYS_INGEST(X) \
  X(ingest, output, STRING, NULL, 0, 0, NULL, \
    "path of the light-curve store to write (written as PATH.partial, then renamed)") \
  X(ingest, inputs, STRING, NULL, 0, 0, NULL, \
    "whitespace-separated directories, glob patterns, files, or @manifest files (one path " \
    "or pattern per line)") \
  X(ingest, flux, STRING, "pdcsap", 0, 0, "pdcsap|sap", \
    "FITS flux column: pdcsap (PDCSAP_FLUX) or sap (SAP_FLUX)") \
  X(ingest, quality_mask, INT, "175", 0, 2147483647, NULL, \
    "FITS points with (QUALITY & mask) != 0 are dropped (175: bits 1, 2, 4, 8, 32, 128)") \
  X(ingest, keep_quality, BOOL, "false", 0, 0, NULL, \
    "store each kept point's quality flags (QUALITY, SAP_QUALITY) in /points/quality") \
  X(ingest, min_points, INT, "1", 1, 1e9, NULL, \
    "objects with fewer kept points are rejected as empty") \
  X(ingest, block_objects, INT, "1024", 1, 1e8, NULL, \
    "objects each rank buffers per collective write (memory per rank ~ block)") \
  X(ingest, block_points, INT, "262144", 1, 1e12, NULL, \
    "points each rank buffers per collective write at most, 16 bytes each (a longer object " \
    "is written alone)") \
  X(ingest, keep_mb, INT, "1024", 0, 1e7, NULL, \
    "MiB of decoded points each rank keeps from reading to writing; objects beyond it are " \
    "decoded twice")

/* [model]: the causal dual-encoder model and its baseline (models.h) */
#define LCFM_KEYS_MODEL(X) \
  X(model, kind, STRING, "causal", 0, 0, "causal|baseline|astromer2", \
    "causal (two encoders), baseline (one latent, same-star contrast only) or astromer2 " \
    "(masked-magnitude pretraining)") \
  X(model, encoder, STRING, "conformer", 0, 0, "conformer|mlp", \
    "conformer (Conformer blocks + LSTM) or mlp") \
  X(model, T, INT, "100", 2, 100000, NULL, \
    "window length in points (longer curves are cut, shorter padded)") \
  X(model, d_model, INT, "64", 2, 4096, NULL, \
    "Conformer width") \
  X(model, heads, INT, "4", 1, 64, NULL, \
    "attention heads (divide d_model)") \
  X(model, feed_forward, INT, "128", 1, 65536, NULL, \
    "Conformer feed-forward width") \
  X(model, blocks, INT, "4", 1, 64, NULL, \
    "Conformer blocks per encoder") \
  X(model, kernel, INT, "31", 1, 1001, NULL, \
    "depthwise convolution kernel (odd)") \
  X(model, latent, INT, "20", 1, 4096, NULL, \
    "size of each latent (z_star, z_instr, or z)") \
  X(model, mlp_hidden, INT, "256", 1, 65536, NULL, \
    "hidden width of the mlp encoder") \
  X(model, projection_hidden, INT, "64", 1, 65536, NULL, \
    "hidden width of the projection heads") \
  X(model, projection_dim, INT, "32", 1, 65536, NULL, \
    "output of the projection heads (InfoNCE space)") \
  X(model, decoder_hidden, INT, "64", 1, 65536, NULL, \
    "width of the decoder branches and their product") \
  X(model, dropout, REAL, "0", 0, 0.95, NULL, \
    "dropout probability in the Conformer blocks") \
  X(model, tau, REAL, "0.1", 1e-4, 100, NULL, \
    "InfoNCE temperature") \
  X(model, weight_recon, REAL, "1", 0, 1e6, NULL, \
    "weight of the reconstruction MSE") \
  X(model, weight_star, REAL, "1", 0, 1e6, NULL, \
    "weight of the same-star InfoNCE") \
  X(model, weight_instr, REAL, "1", 0, 1e6, NULL, \
    "weight of the same-instrument InfoNCE (causal only)") \
  X(model, lambda_independence, REAL, "0", 0, 1e6, NULL, \
    "weight of the independence penalty between z_star and z_instr (mean squared batch " \
    "cross-correlation; causal only; beyond the paper)") \
  X(model, residual, BOOL, "false", 0, 0, NULL, \
    "astromer2: residual connections in the transformer blocks") \
  X(model, probe_fraction, REAL, "0.5", 0, 1, NULL, \
    "astromer2: fraction of a window's observations probed") \
  X(model, probe_keep, REAL, "0.2", 0, 1, NULL, \
    "astromer2: fraction of the probed that keep their value") \
  X(model, probe_random, REAL, "0.2", 0, 1, NULL, \
    "astromer2: fraction of the other probed that take a random value of the window (the " \
    "rest: mask token)")

/* [train]: data-parallel training of the causal model (lcfm train) */
#define LCFM_KEYS_TRAIN(X) \
  X(train, store, STRING, NULL, 0, 0, NULL, \
    "light-curve store to train on (lcfm simulate or lcfm ingest); astromer2: several, " \
    "separated by spaces") \
  X(train, checkpoint, STRING, NULL, 0, 0, NULL, \
    "checkpoint path (HDF5); the best-by-validation one is written beside it as NAME.best.h5") \
  X(train, batch_triplets, INT, "64", 1, 1048576, NULL, \
    "global batch in triplets (3 light curves each), split over ranks") \
  X(train, steps, INT, "1000", 0, 1e12, NULL, \
    "optimizer steps at most (early stopping may end sooner)") \
  X(train, learning_rate, REAL, "1e-3", 0, 10, NULL, \
    "Adam learning rate") \
  X(train, weight_decay, REAL, "0", 0, 10, NULL, \
    "AdamW decoupled weight decay (0: Adam)") \
  X(train, max_grad_norm, REAL, "0", 0, 1e12, NULL, \
    "clip the global gradient norm to this (0: no clipping)") \
  X(train, validation_fraction, REAL, "0.1", 0, 0.9, NULL, \
    "fraction of sources held out for validation") \
  X(train, validation_every, INT, "50", 1, 1e12, NULL, \
    "steps between validation evaluations") \
  X(train, validation_triplets, INT, "256", 1, 1e9, NULL, \
    "validation triplets per evaluation (a fixed set)") \
  X(train, patience, INT, "10", 1, 1e9, NULL, \
    "stop after this many evaluations without a better validation loss") \
  X(train, checkpoint_minutes, REAL, "10", 0, 1e6, NULL, \
    "write a checkpoint at least this often (0: only at the end)") \
  X(train, log_every, INT, "10", 1, 1e12, NULL, \
    "steps between progress lines") \
  X(train, threads, INT, "1", 1, 1024, NULL, \
    "OpenMP threads per rank (OpenBLAS stays single-threaded)") \
  X(train, resume, BOOL, "true", 0, 0, NULL, \
    "continue from the checkpoint if it exists") \
  X(train, batch_windows, INT, "32", 1, 1048576, NULL, \
    "astromer2: global batch in windows, split over ranks") \
  X(train, validation_windows, INT, "512", 1, 1e9, NULL, \
    "astromer2: held-out windows per validation (a fixed set; the final score uses all)") \
  X(train, fields, STRING, "", 0, 0, NULL, \
    "/objects/field values and ranges to train on, e.g. \"3 5 10-12\" (empty: the whole " \
    "store); triplets are drawn among their objects only")

/* [embed]: per-object latents through a checkpoint (embed.h) */
#define LCFM_KEYS_EMBED(X) \
  X(embed, store, STRING, NULL, 0, 0, NULL, \
    "light-curve store to embed") \
  X(embed, checkpoint, STRING, NULL, 0, 0, NULL, \
    "trained checkpoint ([model] keys must match it)") \
  X(embed, output, STRING, NULL, 0, 0, NULL, \
    "embedding store to write (PATH.partial, then renamed)") \
  X(embed, block_objects, INT, "1024", 1, 1e8, NULL, \
    "objects each rank reads and writes per collective step") \
  X(embed, batch_windows, INT, "256", 1, 1e7, NULL, \
    "windows per encoder call") \
  X(embed, mode, STRING, "create", 0, 0, "create|append", \
    "create (embed every selected object) or append (add to output the objects not yet in " \
    "it, e.g. after a store append)") \
  X(embed, fields, STRING, "", 0, 0, NULL, \
    "/objects/field values and ranges to embed, e.g. \"3 5 10-12\" (empty: the whole " \
    "store); rows keep the store's object ids")

/* [probe]: what the latents know (probe.h) */
#define LCFM_KEYS_PROBE(X) \
  X(probe, store, STRING, NULL, 0, 0, NULL, \
    "light-curve store with the target (/truth or labels)") \
  X(probe, embeddings, STRING, NULL, 0, 0, NULL, \
    "embedding store of the causal model (z_star, z_instr) or of any model") \
  X(probe, baseline_embeddings, STRING, "", 0, 0, NULL, \
    "embedding store of the baseline model (z), optional") \
  X(probe, output, STRING, NULL, 0, 0, NULL, \
    "probe store to write (PATH.partial, then renamed)") \
  X(probe, target, STRING, "theta0", 0, 0, NULL, \
    "thetaK (column K of /truth/theta, by source) or label") \
  X(probe, sizes, STRING, "10 20 50 100 200 500 1000 2000", 0, 0, NULL, \
    "training sizes of the MLP probe (objects)") \
  X(probe, runs, INT, "5", 1, 1000, NULL, \
    "evaluation runs of the MLP probe, each with its own training objects and test stars") \
  X(probe, test_fraction, REAL, "0.3", 0.01, 0.9, NULL, \
    "fraction of the stars (sources) held out for testing, drawn afresh in each MLP-probe " \
    "run (the linear probes use run 0's; classification: one split)") \
  X(probe, test_objects, INT, "12000", 10, 1e9, NULL, \
    "at most this many objects of the test stars form a run's test set") \
  X(probe, stopping_fraction, REAL, "0.1", 0, 0.5, NULL, \
    "fraction of the stars, in neither a run's training nor its test set, whose objects " \
    "form the MLP probe's early-stopping pool") \
  X(probe, stopping_objects, INT, "500", 0, 1e9, NULL, \
    "at most this many objects in the early-stopping pool (0: no early stopping)") \
  X(probe, raw_points, INT, "100", 1, 100000, NULL, \
    "values of each light curve used as the raw input") \
  X(probe, mlp_hidden, INT, "64", 1, 65536, NULL, \
    "hidden width of the MLP probe") \
  X(probe, mlp_steps, INT, "1000", 1, 1e9, NULL, \
    "AdamW steps of the MLP probe") \
  X(probe, mlp_batch, INT, "64", 1, 1e6, NULL, \
    "mini-batch of the MLP probe") \
  X(probe, task, STRING, "regression", 0, 0, "regression|classification", \
    "regression (the MLP probe above) or classification (Astromer 2's protocol: labels, " \
    "weighted layers)") \
  X(probe, samples_per_class, STRING, "20 100 500", 0, 0, NULL, \
    "classification: training objects per class, per scenario") \
  X(probe, folds, INT, "3", 1, 100, NULL, \
    "classification: training draws per scenario (one shared test set)") \
  X(probe, classifier_steps, INT, "500", 1, 1e9, NULL, \
    "classification: Adam steps of each classifier") \
  X(probe, fields, STRING, "", 0, 0, NULL, \
    "/objects/field values and ranges to probe, e.g. \"3 5 10-12\" (empty: the whole " \
    "store); embeddings of the same selection or of the whole store") \
  X(probe, linear_max_classes, INT, "1024", 2, 1e6, NULL, \
    "instrument-ID linear probe only up to this many instruments (it holds objects x " \
    "instruments doubles)")

/* [run]: the stages of `lcfm run` and `lcfm sweep --task` (pipeline.h) */
#define LCFM_KEYS_RUN(X) \
  X(run, stages, STRING, "simulate train embed probe plots", 0, 0, NULL, \
    "stages to run (ingest simulate train embed probe plots), in this order; each is " \
    "skipped when its output exists and matches the job") \
  X(run, baseline, BOOL, "false", 0, 0, NULL, \
    "also train and embed the baseline (kind = baseline): NAME-baseline.h5 beside the " \
    "checkpoint and embeddings") \
  X(run, plots, STRING, "", 0, 0, NULL, \
    "directory of the PNGs (empty: NAME-plots beside [probe] output)") \
  X(run, record, STRING, "", 0, 0, NULL, \
    "run record to write (HDF5: status, seconds per stage; lcfm sweep sets it); empty: none")

/* [sweep]: grids of jobs (`lcfm sweep`); grid lines are "section.key = v1 v2 ..." */
#define LCFM_KEYS_SWEEP(X) \
  X(sweep, directory, STRING, "sweep", 0, 0, NULL, \
    "directory of the grid points: point-NNNN/job.ini and outputs") \
  X(sweep, table, STRING, "", 0, 0, NULL, \
    "table written by lcfm sweep --collect (empty: DIRECTORY/sweep.h5)")

/* clang-format on */

/* Every section, in the order of the table: S(section, SECTION). */
#define LCFM_JOB_SECTIONS(S) \
  S(job, JOB) \
  S(simulate, SIMULATE) \
  S(store, STORE) S(ingest, INGEST) S(model, MODEL) S(train, TRAIN) S(embed, EMBED) \
      S(probe, PROBE) S(run, RUN) S(sweep, SWEEP)

#endif
