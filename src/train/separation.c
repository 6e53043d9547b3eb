/* separation.c: does each latent know the instrument? Nearest-centroid instrument-ID accuracy of
 * validation objects, with centroids from training objects (see trainer.h). The objects are a
 * fixed, evenly spaced sample of at most SAMPLE_OBJECTS rows of the store (all of a smaller
 * store), read through the index and embedded once, so the check costs the same at any N. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/store.h"
#include "lcfm/trainer.h"

enum { SAMPLE_OBJECTS = 16384 };

typedef struct {
  const lcfm_sampler *s;
  int latents, L;
  int64_t instruments;
  double *sums;   /* [latents][instruments][L] */
  double *counts; /* [instruments] */
  float *held;    /* validation objects' latents, [held_count][latents][L] */
  int32_t *held_instrument;
  int64_t held_count;
  double correct[2], total;
} separation;

/* A training object adds to its instrument's centroid; a validation object is kept for later. */
static void take(separation *p, const lcfm_index_object *o, const float *z[2]) {
  size_t L = (size_t)p->L;
  if (lcfm_sampler_is_validation(p->s, o->source)) {
    for (int e = 0; e < p->latents; e++)
      memcpy(p->held + ((size_t)p->held_count * (size_t)p->latents + (size_t)e) * L, z[e],
             L * sizeof *z[e]);
    p->held_instrument[p->held_count++] = o->instrument;
    return;
  }
  int32_t m = o->instrument;
  p->counts[m] += 1;
  for (int e = 0; e < p->latents; e++)
    for (size_t j = 0; j < L; j++)
      p->sums[((size_t)e * (size_t)p->instruments + (size_t)m) * L + j] += z[e][j];
}

/* Embeds this rank's share of the sample (window at 0) in chunks of the model's rows. */
static void embed_sample(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s,
                         lcfm_batch_rows *b, separation *p) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int64_t n = s->object_count, sample = n < SAMPLE_OBJECTS ? n : SAMPLE_OBJECTS, first, count;
  lcfm_store_shard(sample, rank, ranks, &first, &count);
  int T = m->cfg.T, chunk = m->cfg.max_rows, L = m->cfg.latent;
  int64_t *rows = lcfm_malloc((size_t)chunk * sizeof *rows);
  lcfm_index_object *objects = lcfm_malloc((size_t)chunk * sizeof *objects);
  p->held =
      lcfm_malloc((size_t)(count ? count : 1) * (size_t)p->latents * (size_t)L * sizeof *p->held);
  p->held_instrument = lcfm_malloc((size_t)(count ? count : 1) * sizeof *p->held_instrument);
  for (int64_t at = 0; at < count; at += chunk) {
    int k = (int)(count - at < chunk ? count - at : chunk);
    for (int r = 0; r < k; r++) rows[r] = (first + at + r) * n / sample; /* evenly spaced rows */
    lcfm_store_index_objects_at(s->index, rows, k, objects);
    for (int r = 0; r < k; r++)
      lcfm_sampler_read_window(s, &objects[r], 0, T, b->times + (size_t)r * T,
                               b->values + (size_t)r * T, b->mask + (size_t)r * T);
    const float *z_star, *z_instr;
    lcfm_causal_embed(m, b->times, b->values, b->mask, k, &z_star, &z_instr);
    for (int r = 0; r < k; r++) {
      const float *z[2] = {z_star + (size_t)r * L, z_instr ? z_instr + (size_t)r * L : NULL};
      take(p, &objects[r], z);
    }
  }
  free(rows), free(objects);
}

/* Nearest centroid of each kept validation object, per latent. */
static void classify_held(separation *p) {
  size_t L = (size_t)p->L;
  for (int64_t h = 0; h < p->held_count; h++) {
    p->total += 1;
    for (int e = 0; e < p->latents; e++) {
      const float *z = p->held + ((size_t)h * (size_t)p->latents + (size_t)e) * L;
      double best = DBL_MAX;
      int64_t guess = -1;
      for (int64_t m = 0; m < p->instruments; m++) {
        if (p->counts[m] == 0) continue;
        double d2 = 0;
        for (size_t j = 0; j < L; j++) {
          double diff = z[j] - p->sums[((size_t)e * (size_t)p->instruments + (size_t)m) * L + j];
          d2 += diff * diff;
        }
        if (d2 < best) best = d2, guess = m;
      }
      p->correct[e] += guess == p->held_instrument[h];
    }
  }
}

void lcfm_latent_separation(MPI_Comm comm, lcfm_causal_model *m, const lcfm_sampler *s,
                            double accuracy[2], double *chance) {
  separation p = {
      .s = s, .latents = m->encoders, .L = m->cfg.latent, .instruments = s->instrument_count};
  size_t sums = (size_t)p.latents * (size_t)p.instruments * (size_t)p.L;
  p.sums = lcfm_calloc(sums ? sums : 1, sizeof *p.sums);
  p.counts = lcfm_calloc((size_t)(p.instruments ? p.instruments : 1), sizeof *p.counts);
  lcfm_batch_rows b;
  lcfm_batch_rows_alloc(&b, (m->cfg.max_rows + 2) / 3, m->cfg.T);
  embed_sample(comm, m, s, &b, &p);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p.sums, (int)sums, MPI_DOUBLE, MPI_SUM, comm));
  LCFM_CHECK_MPI(
      MPI_Allreduce(MPI_IN_PLACE, p.counts, (int)p.instruments, MPI_DOUBLE, MPI_SUM, comm));
  for (int e = 0; e < p.latents; e++)
    for (int64_t i = 0; i < p.instruments; i++)
      for (int j = 0; j < p.L; j++)
        if (p.counts[i] > 0) p.sums[((size_t)e * p.instruments + i) * p.L + j] /= p.counts[i];
  classify_held(&p);
  double local[3] = {p.correct[0], p.correct[1], p.total}, global[3];
  LCFM_CHECK_MPI(MPI_Allreduce(local, global, 3, MPI_DOUBLE, MPI_SUM, comm));
  int64_t present = 0;
  for (int64_t i = 0; i < p.instruments; i++) present += p.counts[i] > 0;
  accuracy[0] = global[2] > 0 ? global[0] / global[2] : 0;
  accuracy[1] = global[2] > 0 && p.latents > 1 ? global[1] / global[2] : -1;
  *chance = present ? 1.0 / (double)present : 0;
  lcfm_batch_rows_free(&b);
  free(p.sums), free(p.counts), free(p.held), free(p.held_instrument);
}
