/* separation.c: does each latent know the instrument? Nearest-centroid instrument-ID accuracy of
 * validation objects, with centroids from training objects (see trainer.h). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/store.h"
#include "lcfm/trainer.h"

/* Embeds this rank's shard of objects (window at 0) in chunks; calls visit per object. */
static void embed_shard(MPI_Comm comm, lcfm_causal_model *m, const lcfm_curves *c, lcfm_batch_rows *b,
                        void (*visit)(void *user, int64_t object, const float *z[2]), void *user) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t first, count;
  lcfm_store_shard(c->count, rank, ranks, &first, &count);
  int T = m->cfg.T, chunk = m->cfg.max_rows, L = m->cfg.latent;
  for (int64_t at = 0; at < count; at += chunk) {
    int rows = (int)(count - at < chunk ? count - at : chunk);
    for (int r = 0; r < rows; r++)
      lcfm_curves_window(c, first + at + r, 0, T, b->times + (size_t)r * T, b->values + (size_t)r * T, b->mask + (size_t)r * T);
    const float *z_star, *z_instr;
    lcfm_causal_embed(m, b->times, b->values, b->mask, rows, &z_star, &z_instr);
    for (int r = 0; r < rows; r++) {
      const float *z[2] = {z_star + (size_t)r * L, z_instr ? z_instr + (size_t)r * L : NULL};
      visit(user, first + at + r, z);
    }
  }
}

typedef struct {
  const lcfm_sampler *s;
  int latents, L;
  int64_t instruments;
  double *sums;     /* [latents][instruments][L] */
  double *counts;   /* [instruments] */
  double correct[2], total;
} separation;

static void add_to_centroids(void *user, int64_t object, const float *z[2]) {
  separation *p = user;
  if (p->s->validation[object]) return;
  int32_t m = p->s->curves->instrument[object];
  p->counts[m] += 1;
  for (int e = 0; e < p->latents; e++)
    for (int j = 0; j < p->L; j++) p->sums[((size_t)e * p->instruments + m) * p->L + j] += z[e][j];
}

static void classify(void *user, int64_t object, const float *z[2]) {
  separation *p = user;
  if (!p->s->validation[object]) return;
  int32_t truth = p->s->curves->instrument[object];
  p->total += 1;
  for (int e = 0; e < p->latents; e++) {
    double best = DBL_MAX;
    int64_t guess = -1;
    for (int64_t m = 0; m < p->instruments; m++) {
      if (p->counts[m] == 0) continue;
      double d2 = 0;
      for (int j = 0; j < p->L; j++) {
        double diff = z[e][j] - p->sums[((size_t)e * p->instruments + m) * p->L + j];
        d2 += diff * diff;
      }
      if (d2 < best) best = d2, guess = m;
    }
    p->correct[e] += guess == truth;
  }
}

void lcfm_latent_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s, double accuracy[2],
                            double *chance) {
  const lcfm_curves *c = s->curves;
  separation p = {.s = s, .latents = m->encoders, .L = m->cfg.latent, .instruments = s->instrument_count};
  size_t sums = (size_t)p.latents * (size_t)p.instruments * (size_t)p.L;
  p.sums = lcfm_calloc(sums, sizeof *p.sums);
  p.counts = lcfm_calloc((size_t)p.instruments, sizeof *p.counts);
  lcfm_batch_rows b;
  lcfm_batch_rows_alloc(&b, (m->cfg.max_rows + 2) / 3, m->cfg.T);
  embed_shard(comm, m, c, &b, add_to_centroids, &p);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p.sums, (int)sums, MPI_DOUBLE, MPI_SUM, comm));
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p.counts, (int)p.instruments, MPI_DOUBLE, MPI_SUM, comm));
  for (int e = 0; e < p.latents; e++)
    for (int64_t i = 0; i < p.instruments; i++)
      for (int j = 0; j < p.L; j++)
        if (p.counts[i] > 0) p.sums[((size_t)e * p.instruments + i) * p.L + j] /= p.counts[i];
  embed_shard(comm, m, c, &b, classify, &p);
  double local[3] = {p.correct[0], p.correct[1], p.total}, global[3];
  LCFM_CHECK_MPI(MPI_Allreduce(local, global, 3, MPI_DOUBLE, MPI_SUM, comm));
  int64_t present = 0;
  for (int64_t i = 0; i < p.instruments; i++) present += p.counts[i] > 0;
  accuracy[0] = global[2] > 0 ? global[0] / global[2] : 0;
  accuracy[1] = global[2] > 0 && p.latents > 1 ? global[1] / global[2] : -1;
  *chance = present ? 1.0 / (double)present : 0;
  lcfm_batch_rows_free(&b);
  free(p.sums), free(p.counts);
}
