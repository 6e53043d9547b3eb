/* pipeline_internal.h: what the files of src/pipeline share (see include/lcfm/pipeline.h). */
#ifndef LCFM_PIPELINE_INTERNAL_H
#define LCFM_PIPELINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "lcfm/job.h"
#include "lcfm/pipeline.h"
#include "lcfm/provenance.h"

#define PIPELINE_PATH_MAX 4096
#define PIPELINE_MAX_INPUTS 8

typedef enum {
  STAGE_INGEST,
  STAGE_SIMULATE,
  STAGE_TRAIN,
  STAGE_TRAIN_BASELINE,
  STAGE_EMBED,
  STAGE_EMBED_BASELINE,
  STAGE_PROBE,
  STAGE_PLOTS,
  STAGE_KINDS
} stage_kind;

typedef struct {
  stage_kind kind;
  lcfm_job *job; /* the run's job with its inputs wired (and the baseline's keys) */
  char output[PIPELINE_PATH_MAX];                      /* what it writes; plots: the manifest */
  char inputs[PIPELINE_MAX_INPUTS][PIPELINE_PATH_MAX]; /* files it reads */
  int input_count;
} pipeline_stage;

struct lcfm_pipeline {
  const lcfm_job *job; /* the run's job (borrowed) */
  pipeline_stage stages[STAGE_KINDS];
  int count;
  char record[PIPELINE_PATH_MAX];
  char plots_dir[PIPELINE_PATH_MAX];
  char probe_output[PIPELINE_PATH_MAX];
  char embeddings[PIPELINE_PATH_MAX];
  char store[PIPELINE_PATH_MAX];
};

/* "train-baseline" etc. */
const char *pipeline_stage_name(stage_kind kind);
/* The job sections a stage's output depends on (NULL-terminated). */
const char *const *pipeline_stage_sections(stage_kind kind);

/* ---- files (rank 0; plain HDF5 reads with the default driver) ---- */
/* A string attribute of the root group, newly allocated; NULL (and why) if it cannot be read. */
char *pipeline_read_text_attribute(const char *path, const char *name, char *why, size_t why_len);
/* 0 and the value, or 1 if the file or the attribute cannot be read. */
int pipeline_read_int64_attribute(const char *path, const char *name, int64_t *value);
int pipeline_file_exists(const char *path);
/* 1 when `path` was modified before `than` (both must exist). */
int pipeline_file_older(const char *path, const char *than);
/* mkdir -p; 0 on success (errno tells why not). */
int pipeline_make_directories(const char *path);
/* NAME.h5 -> NAME (the stem used for NAME-baseline.h5, NAME-plots; lcfm_checkpoint_best_path
 * gives NAME.best.h5). */
void pipeline_stem(const char *path, char *stem, size_t len);

/* ---- decisions and stages (run.c) ---- */
/* Rank 0: 1 when the stage's output is there and current; else 0 and why. `rewritten` lists the
 * outputs written earlier in this run (they make every reader stale). *resumable (may be NULL)
 * says whether an unfinished checkpoint was made by this job and can be continued. */
int pipeline_stage_done(const pipeline_stage *s, char *const *rewritten, int rewritten_count,
                        int *resumable, char *why, size_t why_len);

/* ---- the plots stage (plots.c) ---- */
/* Collective: runs tools/plot_paper.py on rank 0 and writes the manifest; the exit code. */
int pipeline_run_plots(MPI_Comm comm, const lcfm_pipeline *p, const pipeline_stage *s);
/* Rank 0: prints the PNG paths of a manifest. */
void pipeline_print_plots(const char *manifest);

/* ---- sweeps (sweep.c) ---- */
/* The value of grid line `line` at point `index`. */
const char *pipeline_sweep_grid_value(const lcfm_job *job, int64_t index, int line);
/* Collective: point `index`'s job (*point) and plan; NULL if the point is not valid (reported). */
lcfm_pipeline *pipeline_sweep_plan_point(MPI_Comm comm, const lcfm_job *job, int64_t index,
                                         lcfm_job **point);
/* Rank 0: "done", "running", "failed", "requeued", "stale" or "missing". */
void pipeline_sweep_point_status(const lcfm_pipeline *p, char *status, size_t len);

/* ---- probe results (probe_table.c; rank 0) ---- */
typedef struct {
  int inputs, sizes;
  char (*names)[32];        /* [inputs] */
  int64_t *size;            /* [sizes] */
  double *mean, *std;       /* [inputs, sizes] R^2 of the MLP probe */
  int latents;              /* linear probes (0 when the store has none) */
  char (*latent_names)[32]; /* [latents] */
  double *linear_r2,
      *accuracy;   /* [latents] R^2 of the target and instrument-ID accuracy, test objects */
  double majority; /* instrument-ID accuracy of the majority class */
} pipeline_probe_result;

/* 0 and the result, or 1 with why. */
int pipeline_probe_read(const char *path, pipeline_probe_result *r, char *why, size_t why_len);
void pipeline_probe_free(pipeline_probe_result *r);
/* Prints the R^2 table of a probe store; 1 if it cannot be read. */
int pipeline_print_probe_table(const char *path);

/* ---- the run record (record.c; rank 0) ---- */
typedef struct {
  char action[STAGE_KINDS][16];
  double seconds[STAGE_KINDS];          /* this invocation */
  double produced_seconds[STAGE_KINDS]; /* the invocations that produced the current output */
} pipeline_record;

/* Starts a record, reading the previous one at [run] record (if any) so that a stage that is
 * skipped, or that was requeued and now resumes, keeps the seconds it took before. */
void pipeline_record_start(pipeline_record *r, const lcfm_pipeline *p);
/* Rank 0: writes the record (atomically) if [run] record names one. */
void pipeline_record_write(const pipeline_record *r, const lcfm_pipeline *p, const char *status,
                           const lcfm_provenance *prov);
/* Rank 0: status and total seconds of a record; 1 if there is none. */
int pipeline_record_read(const char *path, char *status, size_t status_len, double *seconds);

/* ---- small HDF5 tables written by rank 0 alone (record, sweep table) ---- */
hid_t pipeline_create_file(const char *path, char *partial, size_t partial_len);
void pipeline_publish_file(hid_t file, const char *partial, const char *path);
/* A dataset of `rows` fixed-length strings of `width` bytes (groups created on the way). */
void pipeline_write_strings(hid_t file, const char *name, const char *data, int64_t rows,
                            size_t width);
/* A float64 / int64 / int32 dataset of the given dimensions (1 to 3). */
void pipeline_write_doubles(hid_t file, const char *name, const double *data, int rank,
                            const int64_t *dims);
void pipeline_write_int64s(hid_t file, const char *name, const int64_t *data, int64_t rows);
void pipeline_write_int32s(hid_t file, const char *name, const int32_t *data, int64_t rows);

#endif
