/* astromer_embed.c: `lcfm embed` for Astromer 2: per-object means of the input embedding and of
 * every block's output over consecutive windows, and their plain mean (see astromer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/astromer.h"
#include "lcfm/embed.h"
#include "lcfm/log.h"

typedef struct {
  lcfm_astromer2_model *model;
  lcfm_masked_batch batch;
  int64_t *owner;  /* object (in the block) of each queued window */
  float *means;    /* [capacity, layers, d] */
  double *weights; /* per object of the block: its valid points */
  int layers, d;
} window_queue;

/* Adds the queued windows' layer means, weighted by their valid points, to their objects. */
static void flush_windows(window_queue *q, float *layers) {
  if (q->batch.rows == 0) return;
  lcfm_astromer2_layer_means(q->model, &q->batch, q->means);
  size_t width = (size_t)q->layers * q->d;
  for (int w = 0; w < q->batch.rows; w++) {
    int64_t o = q->owner[w];
    float n = (float)q->batch.length[w];
    q->weights[o] += n;
    lcfm_nn_axpy(layers + (size_t)o * width, n, q->means + (size_t)w * width, width);
  }
  q->batch.rows = 0;
}

static void embed_block(void *context, const lcfm_object_batch *b, float *const *out) {
  window_queue *q = context;
  int T = q->batch.T;
  size_t width = (size_t)q->layers * q->d;
  float *layers = out[0], *z = out[1];
  memset(layers, 0, (size_t)b->count * width * sizeof *layers);
  memset(q->weights, 0, (size_t)b->count * sizeof *q->weights);
  for (int64_t o = 0; o < b->count; o++) {
    int64_t at = b->offset[o] - b->offset[0];
    for (int64_t start = 0; start < b->length[o]; start += T) {
      if (q->batch.rows == q->batch.capacity) flush_windows(q, layers);
      int n = (int)(b->length[o] - start < T ? b->length[o] - start : T);
      lcfm_astromer2_window(&q->batch, q->batch.rows, b->time + at + start, b->value + at + start,
                            b->error + at + start, n, NULL, 0, 0, 0);
      q->owner[q->batch.rows++] = o;
    }
  }
  flush_windows(q, layers);
  for (int64_t o = 0; o < b->count; o++) {
    float *x = layers + (size_t)o * width, *zo = z + (size_t)o * q->d;
    if (q->weights[o] > 0)
      for (size_t j = 0; j < width; j++) x[j] = (float)(x[j] / q->weights[o]);
    for (int j = 0; j < q->d; j++) zo[j] = 0.0f;
    for (int l = 0; l < q->layers; l++) lcfm_nn_axpy(zo, 1.0f / (float)q->layers, x + (size_t)l * q->d, (size_t)q->d);
  }
}

int lcfm_astromer2_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  const char *store_path = lcfm_job_string(job, "embed", "store"), *checkpoint = lcfm_job_string(job, "embed", "checkpoint");
  const char *output = lcfm_job_string(job, "embed", "output");
  int64_t block = lcfm_job_int(job, "embed", "block_objects");
  lcfm_astromer2_config cfg;
  if (lcfm_astromer2_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE;
  cfg.enc.max_batch = (int)lcfm_job_int(job, "embed", "batch_windows");
  lcfm_nn_set_threads((int)lcfm_job_int(job, "train", "threads"));
  lcfm_astromer2_model model;
  lcfm_astromer2_init(&model, &cfg, 0);
  char *settings = lcfm_astromer2_settings(&cfg), *signature = lcfm_model_signature(&model.params, settings);
  int64_t step = 0;
  lcfm_store *store = lcfm_embed_open(comm, checkpoint, store_path, &model.params, signature, &step);
  if (!store) {
    free(settings), free(signature);
    lcfm_astromer2_free(&model);
    return LCFM_EXIT_RUNTIME;
  }
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_log("embed %s with %s (%s, step %lld): %lld objects on %d ranks -> %s", store_path, checkpoint, settings,
           (long long)step, (long long)lcfm_store_object_count(store), ranks, output);
  window_queue q = {.model = &model, .layers = cfg.enc.blocks + 1, .d = cfg.enc.d};
  lcfm_masked_batch_alloc(&q.batch, cfg.enc.max_batch, cfg.enc.T);
  q.owner = lcfm_malloc((size_t)cfg.enc.max_batch * sizeof *q.owner);
  q.means = lcfm_malloc((size_t)cfg.enc.max_batch * q.layers * q.d * sizeof *q.means);
  q.weights = lcfm_malloc((size_t)block * sizeof *q.weights);
  lcfm_embed_outputs o = {.count = 2, .names = {"/layers", "/z"}, .cols = {q.layers * q.d, q.d},
                          .embed_block = embed_block, .context = &q, .fields = lcfm_job_string(job, "embed", "fields"),
                          .window_rule = "consecutive windows of T points from the first, the last padded, each "
                                         "zero-meaned; per window the mean over valid points of the input embedding "
                                         "and of every block's output; per object the mean of its windows weighted by "
                                         "their valid points; /layers [N, (blocks + 1) d], /z their plain mean"};
  lcfm_embed_stream(comm, store, output, block, &o, prov, checkpoint, signature);
  free(q.owner), free(q.means), free(q.weights);
  lcfm_masked_batch_free(&q.batch);
  free(settings), free(signature);
  lcfm_store_free(store);
  lcfm_astromer2_free(&model);
  lcfm_log_success("embed");
  return LCFM_EXIT_OK;
}
