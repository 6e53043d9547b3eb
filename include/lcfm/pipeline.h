/* pipeline.h: `lcfm run` and `lcfm sweep`: a job's stages run in order in one MPI job, each
 * skipped when its output is already there and made by the same job.
 *
 * Stages ([run] stages, run in this order whatever order they are listed in):
 *   ingest     lcfm_ingest_job_run        -> [ingest] output
 *   simulate   lcfm_simulate_store        -> [simulate] output
 *   train      lcfm_train_run             -> [train] checkpoint and NAME.best.h5
 *   embed      lcfm_embed_run             -> [embed] output
 *   probe      lcfm_probe_run             -> [probe] output
 *   plots      tools/plot_paper.py        -> PNGs in [run] plots (manifest plots.txt)
 * With [run] baseline = true, train and embed run a second time with model.kind = baseline:
 * checkpoint NAME-baseline.h5 beside [train] checkpoint, embeddings [probe] baseline_embeddings
 * (or NAME-baseline.h5 beside [embed] output), and the probe compares all four inputs.
 *
 * Wiring: an input key left empty is taken from the stage before it ([train] store = [ingest]
 * output and/or [simulate] output, whichever stages run; a store list depends on each store;
 * [embed] store = [train] store, [embed] checkpoint = the best checkpoint NAME.best.h5,
 * [probe] store = [embed] store, [probe] embeddings = [embed] output), so a run job names only
 * its outputs. Every problem (a missing output key, a bad stage name, an invalid model or
 * simulation, an [ingest] input that names no file) is reported before any stage runs (exit 2).
 *
 * A stage is skipped when all of these hold (checked by rank 0 just before the stage):
 *   - its output exists (outputs appear only complete: NAME.partial, then rename);
 *   - the effective job stored in it (provenance attribute `job`) agrees with this stage's job
 *     on every key the stage depends on: ingest on [ingest]; simulate on [job] seed and [simulate]; train also on
 *     [ingest], [model] and [train]; embed also on [embed]; probe also on [probe].
 *     (ingest does not list its input directories: a file added later does not make it stale).
 *     Operational keys (job name, block sizes, log and checkpoint intervals, threads, resume)
 *     and the [run] and [sweep] sections do not count;
 *   - it is not older than the files it reads and none of them was rewritten in this run;
 *   - train: the checkpoint says training ended (step = steps, or early stopping).
 * Otherwise the stage runs: a matching unfinished checkpoint is resumed (whatever [train]
 * resume says), any other is started again. SIGTERM or SIGUSR1 (Slurm's warning) between or
 * during stages ends the run with LCFM_EXIT_REQUEUE (75) once the current stage has stopped at
 * a safe point (training checkpoints at the next step; other stages finish first).
 *
 * The run record ([run] record, HDF5 schema "lcfm-run", written by rank 0 with provenance):
 * root attributes status ("running", "done", "failed", "requeued") and seconds (the sum of
 * produced_seconds); /stages/name, /stages/action ("ran", "skipped", "failed", "requeued",
 * "pending"), /stages/seconds (this invocation) and /stages/produced_seconds (the invocations
 * that produced the current output, a requeued stage's earlier parts included).
 *
 * Sweeps (`lcfm sweep`): the [sweep] grid lines of a job (job.h) span a grid, their product
 * with the last line varying fastest. Point I is the job without the grid, with each grid key
 * set to its value, its outputs moved into DIRECTORY/point-IIII/ (same file names; inputs that
 * name an output follow it) and [run] record = DIRECTORY/point-IIII/run.h5; it is written to
 * DIRECTORY/point-IIII/job.ini and run as above. --collect gathers every point into one
 * table (schema "lcfm-sweep"):
 *   /points/index int64 [P], /points/status int32 [P] (0 missing, 1 incomplete, 2 done),
 *   /points/wall_seconds float64 [P] (NaN if unknown), /points/directory string [P],
 *   /grid/<section.key> float64 (numbers, booleans 0/1) or string [P], one per grid key,
 *   /probe/inputs string[32] [I], /probe/sizes int64 [S],
 *   /probe/r2_mean, /probe/r2_std float64 [P, I, S]   (NaN where a point is not done)
 *   /linear/inputs string[32] [L] (the probe's linear probes, when it has them),
 *   /linear/r2_test, /linear/accuracy_test float64 [P, L] (target R^2, instrument-ID accuracy),
 *   /linear/majority_accuracy float64 [P]  (the instrument-ID chance level)
 */
#ifndef LCFM_PIPELINE_H
#define LCFM_PIPELINE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "lcfm/job.h"

typedef struct lcfm_pipeline lcfm_pipeline;

/* Collective. Wires and checks the stages of `job`; NULL on every rank if the job cannot run
 * (rank 0 reported why). */
lcfm_pipeline *lcfm_pipeline_plan(MPI_Comm comm, const lcfm_job *job);
/* Collective: runs (or, with dry_run, only reports) each stage; returns the exit code
 * (0, 1, 2, or LCFM_EXIT_REQUEUE). argc/argv go into the provenance. */
int lcfm_pipeline_run(lcfm_pipeline *p, MPI_Comm comm, int argc, char **argv, int dry_run);
/* Rank 0: 1 when every stage's output is there and current (a finished run), else 0 with the
 * first reason in `why`. */
int lcfm_pipeline_done(const lcfm_pipeline *p, char *why, size_t why_len);
/* The probe store the run writes ("" when it has no probe stage). */
const char *lcfm_pipeline_probe_output(const lcfm_pipeline *p);
/* What a plan holds (what --dry-run prints): the number of stages that run, and the stage named
 * `name` ("train-baseline", ...): its job with the inputs wired, and its output (plots: the
 * manifest). NULL when the plan has no such stage; both live as long as the plan. */
int lcfm_pipeline_stage_count(const lcfm_pipeline *p);
const lcfm_job *lcfm_pipeline_stage_job(const lcfm_pipeline *p, const char *name);
const char *lcfm_pipeline_stage_output(const lcfm_pipeline *p, const char *name);
void lcfm_pipeline_free(lcfm_pipeline *p);

/* 1 when two effective job texts agree on every key of `sections` (NULL-terminated) that
 * changes results; otherwise 0, with the first difference in `why`. A key missing from a
 * text takes its default. */
int lcfm_pipeline_jobs_agree(const char *stored, const char *current, const char *const *sections,
                             char *why, size_t why_len);

/* ---- sweeps ---- */
/* Number of grid points of the job's [sweep] lines (1 when there are none). */
int64_t lcfm_sweep_point_count(const lcfm_job *job);
/* Collective: the job of grid point `index`; NULL on every rank when it is not valid. */
lcfm_job *lcfm_sweep_point_job(MPI_Comm comm, const lcfm_job *job, int64_t index);
/* DIRECTORY/point-IIII */
void lcfm_sweep_point_directory(const lcfm_job *job, int64_t index, char *dir, size_t len);
/* "simulate.K=13 simulate.alpha=2": the grid values of a point. */
void lcfm_sweep_point_label(const lcfm_job *job, int64_t index, char *label, size_t len);
/* Collective: every point is a valid job that can run (else reported, returns the count of
 * bad points). */
int lcfm_sweep_check(MPI_Comm comm, const lcfm_job *job);
/* The grid is not larger than lcfm handles (else reported, returns 1); what --task checks
 * besides its own point. */
int lcfm_sweep_check_size(const lcfm_job *job);
/* Collective verbs; each returns the exit code. */
int lcfm_sweep_list(MPI_Comm comm, const lcfm_job *job);
int lcfm_sweep_task(MPI_Comm comm, const lcfm_job *job, int64_t index, int argc, char **argv);
int lcfm_sweep_collect(MPI_Comm comm, const lcfm_job *job, int argc, char **argv);

#endif
