/* causal_embed.c: `lcfm embed` for the causal model and its baseline: z_star and z_instr (or z)
 * per object through the shared window queue (see embed.h). */
#include <stdlib.h>

#include "lcfm/embed.h"
#include "lcfm/models.h"

/* The model and its batch of windows: times, values, mask [capacity, T]. */
typedef struct {
  lcfm_causal_model *model;
  float *times, *values, *mask;
} causal_windows;

/* Window times start at 0; padding gets time 0, value 0, mask 0. */
static void put_window(void *context, int row, const double *time, const float *value,
                       const float *error, int n) {
  (void)error;
  causal_windows *c = context;
  int T = c->model->cfg.T;
  size_t at = (size_t)row * T;
  for (int i = 0; i < n; i++) {
    c->times[at + i] = (float)(time[i] - time[0]);
    c->values[at + i] = value[i];
    c->mask[at + i] = 1.0f;
  }
  for (int i = n; i < T; i++) c->times[at + i] = c->values[at + i] = c->mask[at + i] = 0.0f;
}

static void run_windows(void *context, int rows, const float **window_out) {
  causal_windows *c = context;
  lcfm_causal_embed(c->model, c->times, c->values, c->mask, rows, &window_out[0], &window_out[1]);
}

int lcfm_causal_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_causal_config cfg;
  if (lcfm_causal_config_from_job(&cfg, job)) return LCFM_EXIT_USAGE;
  cfg.max_rows = (int)lcfm_job_settings(job)->embed.batch_windows;
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, 3, 0);
  char *settings = lcfm_causal_settings(&cfg);
  size_t points = (size_t)cfg.max_rows * cfg.T;
  causal_windows c = {.model = &model,
                      .times = lcfm_malloc(points * sizeof *c.times),
                      .values = lcfm_malloc(points * sizeof *c.values),
                      .mask = lcfm_malloc(points * sizeof *c.mask)};
  lcfm_embed_outputs o = {
      .count = model.encoders,
      .windows = {.model = &c,
                  .T = cfg.T,
                  .capacity = cfg.max_rows,
                  .averaged = model.encoders,
                  .put = put_window,
                  .run = run_windows},
      .window_rule =
          "consecutive windows of T points from the first, the last padded; the object's "
          "latent is the mean of its window latents weighted by their valid points"};
  static const char *const names[2][2] = {{"/z", ""}, {"/z_star", "/z_instr"}};
  for (int e = 0; e < o.count; e++) o.names[e] = names[o.count - 1][e], o.cols[e] = cfg.latent;
  int code = lcfm_embed_model(comm, job, prov, &model.params, settings, &o);
  free(c.times), free(c.values), free(c.mask);
  free(settings);
  lcfm_causal_free(&model);
  return code;
}
