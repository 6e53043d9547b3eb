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
    {"simulate", "alpha", LCFM_KEY_REAL, "1.0", 0, 10,
     "harmonic k has amplitude theta_k / k^alpha (the paper does not state it; lcfm's choice)"},
    {"simulate", "lambda", LCFM_KEY_REAL, "0.2", 1e-9, 1e9,
     "period L_s = T exp(theta_0) lambda (the paper does not state it; median period 20 steps at T=100)"},
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
};

const int lcfm_job_key_count = (int)(sizeof lcfm_job_keys / sizeof lcfm_job_keys[0]);
