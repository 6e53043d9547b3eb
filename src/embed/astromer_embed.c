/* astromer_embed.c: `lcfm embed` for Astromer 2: per-object means of the input embedding and of
 * every block's output over consecutive windows through the shared window queue, and their plain
 * mean (see embed.h). */
#include <stdlib.h>

#include "lcfm/astromer.h"
#include "lcfm/embed.h"

/* The model, its batch of windows and the layer means of the last run. */
typedef struct {
  lcfm_astromer2_model *model;
  lcfm_masked_batch batch;
  float *means; /* [capacity, layers, d] */
  int layers, d;
} astromer_windows;

static void put_window(void *context, int row, const double *time, const float *value,
                       const float *error, int n) {
  astromer_windows *a = context;
  lcfm_astromer2_window(&a->batch, row, time, value, error, n, NULL, 0, 0, 0);
}

static void run_windows(void *context, int rows, const float **window_out) {
  astromer_windows *a = context;
  a->batch.rows = rows;
  lcfm_astromer2_layer_means(a->model, &a->batch, a->means);
  window_out[0] = a->means;
}

/* z: the plain mean of each object's layers: out[0] [objects, layers, d] -> out[1] [objects, d]. */
static void layers_mean(void *context, int64_t objects, float *const *out) {
  astromer_windows *a = context;
  size_t width = (size_t)a->layers * a->d;
  for (int64_t o = 0; o < objects; o++) {
    const float *x = out[0] + (size_t)o * width;
    float *z = out[1] + (size_t)o * a->d;
    for (int j = 0; j < a->d; j++) z[j] = 0.0f;
    for (int l = 0; l < a->layers; l++)
      lcfm_nn_axpy(z, 1.0f / (float)a->layers, x + (size_t)l * a->d, (size_t)a->d);
  }
}

int lcfm_astromer2_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_astromer2_config cfg;
  if (lcfm_astromer2_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE;
  cfg.enc.max_batch = (int)lcfm_job_settings(job)->embed.batch_windows;
  lcfm_astromer2_model model;
  lcfm_astromer2_init(&model, &cfg, 0);
  char *settings = lcfm_astromer2_settings(&cfg);
  astromer_windows a = {.model = &model, .layers = cfg.enc.blocks + 1, .d = cfg.enc.d};
  lcfm_masked_batch_alloc(&a.batch, cfg.enc.max_batch, cfg.enc.T);
  a.means = lcfm_malloc((size_t)cfg.enc.max_batch * a.layers * a.d * sizeof *a.means);
  lcfm_embed_outputs o = {
      .count = 2,
      .names = {"/layers", "/z"},
      .cols = {a.layers * a.d, a.d},
      .windows = {.model = &a,
                  .T = cfg.enc.T,
                  .capacity = cfg.enc.max_batch,
                  .averaged = 1,
                  .put = put_window,
                  .run = run_windows,
                  .finish = layers_mean},
      .window_rule =
          "consecutive windows of T points from the first, the last padded, each zero-meaned; "
          "per window the mean over valid points of the input embedding and of every block's "
          "output; per object the mean of its windows weighted by their valid points; /layers "
          "[N, (blocks + 1) d], /z their plain mean"};
  int code = lcfm_embed_model(comm, job, prov, &model.params, settings, &o);
  free(a.means);
  lcfm_masked_batch_free(&a.batch);
  free(settings);
  lcfm_astromer2_free(&model);
  return code;
}
