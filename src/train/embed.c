/* embed.c: `lcfm embed` (see embed.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/embed.h"
#include "lcfm/h5io.h"
#include "lcfm/log.h"
#include "lcfm/models.h"
#include "lcfm/store.h"
#include "lcfm/train.h"

enum { COLUMNS = 5 };
static const char *const column_names[COLUMNS] = {"/objects/id", "/objects/source", "/objects/instrument",
                                                  "/objects/field", "/objects/label"};

typedef struct {
  MPI_Comm comm;
  hid_t file, dxpl, columns[COLUMNS], latents[2];
  char partial[4096];
  int latent_count, L;
} embedding_writer;

static void writer_open(embedding_writer *w, MPI_Comm comm, const char *path, int64_t objects, int latent_count,
                        int L, const lcfm_provenance *prov, const char *checkpoint, const char *signature) {
  memset(w, 0, sizeof *w);
  w->comm = comm, w->latent_count = latent_count, w->L = L;
  w->file = lcfm_h5_create_partial(comm, path, w->partial, sizeof w->partial);
  w->dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_write_string_attribute(w->file, "schema", LCFM_EMBEDDINGS_SCHEMA);
  lcfm_h5_write_int64_attribute(w->file, "schema_version", 1);
  lcfm_h5_write_string_attribute(w->file, "checkpoint", checkpoint);
  lcfm_h5_write_string_attribute(w->file, "model_signature", signature);
  lcfm_h5_write_string_attribute(w->file, "window_rule",
                                 "consecutive windows of T points from the first, the last padded; the object's "
                                 "latent is the mean of its window latents weighted by their valid points");
  lcfm_provenance_write(w->file, prov);
  for (int c = 0; c < COLUMNS; c++)
    w->columns[c] = lcfm_h5_create_dataset(w->file, column_names[c], c < 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, objects, 0);
  static const char *const names[2][2] = {{"/z", ""}, {"/z_star", "/z_instr"}};
  for (int e = 0; e < latent_count; e++)
    w->latents[e] = lcfm_h5_create_dataset(w->file, names[latent_count - 1][e], H5T_NATIVE_FLOAT, objects, L);
}

static void writer_rows(embedding_writer *w, const lcfm_object_batch *b, int64_t first, float *const z[2]) {
  void *columns[COLUMNS] = {b->id, b->source, b->instrument, b->field, b->label};
  for (int c = 0; c < COLUMNS; c++)
    lcfm_h5_transfer_rows(w->columns[c], c < 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, w->dxpl, first, b->count, 0, columns[c], 1);
  for (int e = 0; e < w->latent_count; e++)
    lcfm_h5_transfer_rows(w->latents[e], H5T_NATIVE_FLOAT, w->dxpl, first, b->count, w->L, z[e], 1);
}

static void writer_close(embedding_writer *w, const char *path) {
  for (int c = 0; c < COLUMNS; c++) H5Dclose(w->columns[c]);
  for (int e = 0; e < w->latent_count; e++) H5Dclose(w->latents[e]);
  H5Pclose(w->dxpl);
  lcfm_h5_publish(w->comm, w->file, w->partial, path);
}

/* Windows of the objects of one block, embedded in chunks of the model's capacity; z[e] gets
 * the weighted mean per object. */
typedef struct {
  lcfm_causal_model *model;
  float *times, *values, *mask;
  int64_t *owner;  /* object (in the block) of each queued window */
  float *weight;   /* valid points of each queued window */
  int queued;
} window_queue;

static void flush_windows(window_queue *q, float *const z[2], double *weights) {
  if (q->queued == 0) return;
  const float *zs[2];
  lcfm_causal_embed(q->model, q->times, q->values, q->mask, q->queued, &zs[0], &zs[1]);
  int L = q->model->cfg.latent;
  for (int w = 0; w < q->queued; w++) {
    int64_t o = q->owner[w];
    weights[o] += q->weight[w];
    for (int e = 0; e < q->model->encoders; e++)
      for (int j = 0; j < L; j++) z[e][o * L + j] += q->weight[w] * zs[e][(size_t)w * L + j];
  }
  q->queued = 0;
}

static void embed_block(window_queue *q, const lcfm_object_batch *b, float *const z[2], double *weights) {
  int T = q->model->cfg.T, L = q->model->cfg.latent, capacity = q->model->cfg.max_rows;
  for (int e = 0; e < q->model->encoders; e++) memset(z[e], 0, (size_t)b->count * L * sizeof *z[e]);
  memset(weights, 0, (size_t)b->count * sizeof *weights);
  for (int64_t o = 0; o < b->count; o++) {
    const double *time = b->time + (b->offset[o] - b->offset[0]);
    const float *value = b->value + (b->offset[o] - b->offset[0]);
    for (int64_t start = 0; start < b->length[o]; start += T) {
      if (q->queued == capacity) flush_windows(q, z, weights);
      size_t row = (size_t)q->queued * T;
      int64_t n = b->length[o] - start < T ? b->length[o] - start : T;
      for (int64_t i = 0; i < n; i++) {
        q->times[row + i] = (float)(time[start + i] - time[start]);
        q->values[row + i] = value[start + i];
        q->mask[row + i] = 1.0f;
      }
      for (int64_t i = n; i < T; i++) q->times[row + i] = q->values[row + i] = q->mask[row + i] = 0.0f;
      q->owner[q->queued] = o;
      q->weight[q->queued] = (float)n;
      q->queued++;
    }
  }
  flush_windows(q, z, weights);
  for (int e = 0; e < q->model->encoders; e++)
    for (int64_t o = 0; o < b->count; o++)
      for (int j = 0; j < L; j++) z[e][o * L + j] = weights[o] > 0 ? (float)(z[e][o * L + j] / weights[o]) : 0.0f;
}

int lcfm_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  const char *store_path = lcfm_job_string(job, "embed", "store"), *checkpoint = lcfm_job_string(job, "embed", "checkpoint");
  const char *output = lcfm_job_string(job, "embed", "output");
  int64_t block = lcfm_job_int(job, "embed", "block_objects");
  lcfm_causal_config cfg;
  if (lcfm_causal_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE;
  cfg.max_rows = (int)lcfm_job_int(job, "embed", "batch_windows");
  lcfm_nn_set_threads((int)lcfm_job_int(job, "train", "threads"));
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, 3, 0);
  char *settings = lcfm_causal_settings(&cfg), *signature = lcfm_model_signature(&model.params, settings);
  lcfm_adam unused_opt = {0};
  lcfm_train_state unused_state = {0};
  char why[2048] = "";
  int failed = lcfm_checkpoint_read(checkpoint, &model.params, &unused_opt, &unused_state, signature, why, sizeof why);
  lcfm_store *store = failed ? NULL : lcfm_store_open(comm, store_path, why, sizeof why);
  int any = 0, mine = failed || !store;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) {
    if (lcfm_log_rank() == 0) fprintf(stderr, "lcfm embed: %s\nFAILED\n", why);
    lcfm_store_free(store);
    free(settings), free(signature);
    lcfm_causal_free(&model);
    return LCFM_EXIT_RUNTIME;
  }
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t n = lcfm_store_object_count(store), first, count;
  lcfm_store_shard(n, rank, ranks, &first, &count);
  lcfm_log("embed %s with %s (%s, step %lld): %lld objects on %d ranks -> %s", store_path, checkpoint, settings,
           (long long)unused_state.step, (long long)n, ranks, output);
  embedding_writer w;
  writer_open(&w, comm, output, n, model.encoders, cfg.latent, prov, checkpoint, signature);
  window_queue q = {.model = &model};
  size_t rows = (size_t)cfg.max_rows;
  q.times = lcfm_malloc(rows * cfg.T * sizeof *q.times), q.values = lcfm_malloc(rows * cfg.T * sizeof *q.values);
  q.mask = lcfm_malloc(rows * cfg.T * sizeof *q.mask);
  q.owner = lcfm_malloc(rows * sizeof *q.owner), q.weight = lcfm_malloc(rows * sizeof *q.weight);
  float *z[2] = {lcfm_malloc((size_t)block * cfg.latent * sizeof(float)), lcfm_malloc((size_t)block * cfg.latent * sizeof(float))};
  double *weights = lcfm_malloc((size_t)block * sizeof *weights);
  lcfm_store_cursor cursor;
  lcfm_store_cursor_begin(&cursor, store, first, count, block);
  lcfm_progress progress;
  lcfm_progress_start(&progress, "embed", n);
  int64_t at = first, done = 0, done_all = 0;
  while (lcfm_store_cursor_next(&cursor)) {
    embed_block(&q, &cursor.batch, z, weights);
    writer_rows(&w, &cursor.batch, at, z);
    at += cursor.batch.count, done += cursor.batch.count;
    LCFM_CHECK_MPI(MPI_Allreduce(&done, &done_all, 1, MPI_INT64_T, MPI_SUM, comm));
    lcfm_progress_update(&progress, done_all);
  }
  lcfm_progress_finish(&progress, done_all);
  lcfm_store_cursor_end(&cursor);
  writer_close(&w, output);
  lcfm_log("wrote %s", output);
  free(q.times), free(q.values), free(q.mask), free(q.owner), free(q.weight), free(z[0]), free(z[1]), free(weights);
  free(settings), free(signature);
  lcfm_store_free(store);
  lcfm_causal_free(&model);
  lcfm_log_success("embed");
  return LCFM_EXIT_OK;
}
