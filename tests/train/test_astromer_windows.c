/* test_astromer_windows.c: Astromer 2's masked windows and attention mask on known windows.
 *   - 200 valid points: exactly 100 probed, 20 kept, 16 random (values of the same window), 64
 *     replaced by the mask token; the rest untouched; 150 valid of 200: 75 / 15 / 12 / 48, padding
 *     all zero and never probed;
 *   - zero means of time, magnitude and error over the valid points; error weights span
 *     [1e-3, 1.001]; non-positive errors take the smallest positive one;
 *   - keyed: the same key gives the same window, another key another probing;
 *   - the encoder's key mask is valid (1 - replace): attention to masked and padded keys is
 *     exactly 0, and what sits at those positions cannot change any prediction;
 *   - the sampler over a list of two labelled stores read on demand: every training window is of a
 *     training object of either store, inside its light curve and equal (bit for bit, probing
 *     included) to the window cut from the stores loaded whole (lcfm_curves); a rank's part of a
 *     step equals the same slots of the whole step; validation windows are consecutive windows of
 *     held-out objects; walking the held-out windows in two shares gives every window of every
 *     held-out object once. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/astromer_train.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/sim.h"

enum { T = 200 };

static void synthetic(int n, double *time, float *value, float *error) {
  for (int i = 0; i < n; i++) {
    time[i] = 1000.0 + 3.7 * i + 0.01 * i * i;
    value[i] = (float)(17.0 + 0.3 * sin(0.2 * i) + 0.001 * i);
    error[i] = (float)(0.02 + 0.001 * (i % 17));
  }
}

typedef struct {
  int probed, replaced, kept_or_random, changed, valid;
} counts;

static counts count_row(const lcfm_masked_batch *b, int row) {
  counts c = {0};
  for (int t = 0; t < b->T; t++) {
    size_t i = (size_t)row * b->T + t;
    c.valid += b->valid[i] != 0;
    c.probed += b->probed[i] != 0;
    c.replaced += b->replace[i] != 0;
    c.kept_or_random += b->probed[i] != 0 && b->replace[i] == 0;
    c.changed += b->probed[i] != 0 && b->replace[i] == 0 && b->input[i] != b->target[i];
  }
  return c;
}

static void check_row(const lcfm_masked_batch *b, int row, int n, int probed, int keep,
                      int random) {
  counts c = count_row(b, row);
  EXPECT(c.valid == n, "row %d: %d valid points, expected %d", row, c.valid, n);
  EXPECT(c.probed == probed, "row %d: %d probed, expected %d", row, c.probed, probed);
  EXPECT(c.replaced == probed - keep - random, "row %d: %d mask tokens, expected %d", row,
         c.replaced, probed - keep - random);
  EXPECT(c.kept_or_random == keep + random, "row %d: %d kept or random", row, c.kept_or_random);
  /* A random position may draw itself (probability 1/n each): allow two such draws. */
  EXPECT(c.changed <= random && c.changed >= random - 2,
         "row %d: %d probed values changed, expected about %d", row, c.changed, random);
  double st = 0, sv = 0, se = 0;
  for (int t = 0; t < T; t++) {
    size_t i = (size_t)row * T + t;
    if (t >= n) {
      EXPECT(b->times[i] == 0 && b->target[i] == 0 && b->input[i] == 0 && b->errors[i] == 0 &&
                 b->weight[i] == 0 && b->probed[i] == 0 && b->replace[i] == 0,
             "row %d: padding %d is not all zero", row, t);
      continue;
    }
    st += b->times[i], sv += b->target[i], se += b->errors[i];
    if (b->probed[i] == 0)
      EXPECT(b->input[i] == b->target[i], "row %d: unprobed point %d changed", row, t);
    if (b->replace[i] != 0)
      EXPECT(b->input[i] == 0.0f, "row %d: masked point %d keeps a value", row, t);
    if (b->probed[i] != 0 &&
        b->replace[i] == 0) { /* kept, or a value found elsewhere in the window */
      int found = 0;
      for (int u = 0; u < n && !found; u++) found = b->target[(size_t)row * T + u] == b->input[i];
      EXPECT(found, "row %d: probed point %d has a value from outside its window", row, t);
    }
  }
  EXPECT(fabs(st) < 1e-3 * n && fabs(sv) < 1e-4 * n && fabs(se) < 1e-5 * n,
         "row %d: not zero-meaned (%g %g %g)", row, st, sv, se);
}

static void test_probing(void) {
  double time[T];
  float value[T], error[T];
  synthetic(T, time, value, error);
  lcfm_probing p = {0.5, 0.2, 0.2};
  lcfm_masked_batch b;
  lcfm_masked_batch_alloc(&b, 4, T);
  lcfm_astromer2_window(&b, 0, time, value, error, T, &p, 7, LCFM_STREAM_ASTRO_PROBE, 11);
  check_row(&b, 0, T, 100, 20, 16);
  lcfm_astromer2_window(&b, 1, time, value, error, 150, &p, 7, LCFM_STREAM_ASTRO_PROBE, 12);
  check_row(&b, 1, 150, 75, 15, 12);
  lcfm_astromer2_window(&b, 2, time, value, error, T, &p, 7, LCFM_STREAM_ASTRO_PROBE, 11);
  EXPECT(!memcmp(b.probed, b.probed + 2 * T, T * sizeof(float)) &&
             !memcmp(b.input, b.input + 2 * T, T * sizeof(float)),
         "the same key gave another window");
  lcfm_astromer2_window(&b, 3, time, value, error, T, &p, 7, LCFM_STREAM_ASTRO_PROBE, 13);
  EXPECT(memcmp(b.probed, b.probed + 3 * T, T * sizeof(float)),
         "another key gave the same probing");
  /* Weights: 1/error min-max normalised + 1e-3 (largest error -> 1e-3, smallest -> 1.001). */
  float lo = 10, hi = -10;
  for (int t = 0; t < T; t++) lo = fminf(lo, b.weight[t]), hi = fmaxf(hi, b.weight[t]);
  EXPECT_NEAR(lo, 1e-3, 1e-6, "smallest weight");
  EXPECT_NEAR(hi, 1.001, 1e-5, "largest weight");
  /* Unusable errors take the smallest positive one (weight 1.001), without aborting. */
  error[5] = 0.0f, error[6] = -1.0f, error[7] = NAN;
  lcfm_astromer2_window(&b, 0, time, value, error, T, NULL, 0, 0, 0);
  EXPECT(b.weight[5] == b.weight[6] && b.weight[6] == b.weight[7] &&
             fabsf(b.weight[5] - 1.001f) < 1e-5f,
         "weights of unusable errors: %g %g %g", b.weight[5], b.weight[6], b.weight[7]);
  counts c = count_row(&b, 0);
  EXPECT(c.probed == 0 && c.replaced == 0, "an embedding window was probed");
  lcfm_masked_batch_free(&b);
}

/* Attention never looks at masked or padded keys, and their contents cannot reach a prediction. */
static void test_attention_mask(void) {
  enum { TT = 40, B = 2 };
  lcfm_astromer2_config cfg = {.enc = lcfm_astromer_defaults(), .probing = {0.5, 0.2, 0.2}};
  cfg.enc.d = 16, cfg.enc.heads = 2, cfg.enc.ff = 16, cfg.enc.blocks = 2, cfg.enc.T = TT,
  cfg.enc.max_batch = B;
  lcfm_astromer2_model m;
  lcfm_astromer2_init(&m, &cfg, 3);
  double time[TT];
  float value[TT], error[TT];
  synthetic(TT, time, value, error);
  lcfm_masked_batch b;
  lcfm_masked_batch_alloc(&b, B, TT);
  lcfm_astromer2_window(&b, 0, time, value, error, TT, &cfg.probing, 5, LCFM_STREAM_ASTRO_PROBE, 1);
  lcfm_astromer2_window(&b, 1, time, value, error, 29, &cfg.probing, 5, LCFM_STREAM_ASTRO_PROBE, 2);
  b.rows = B;
  lcfm_astromer_forward(&m.enc, &m.params,
                        &(lcfm_nn_series){b.times, b.input, b.valid, b.replace, B}, 0, 0, 0);
  int hidden = 0, leaks = 0;
  for (int i = 0; i < B * TT; i++) {
    float want = b.valid[i] * (1.0f - b.replace[i]);
    EXPECT(m.enc.keymask[i] == want, "key mask %d is %g, expected %g", i, m.enc.keymask[i], want);
    hidden += want == 0.0f;
  }
  for (int blk = 0; blk < cfg.enc.blocks; blk++)
    for (int bh = 0; bh < B * cfg.enc.heads; bh++)
      for (int q = 0; q < TT; q++)
        for (int k = 0; k < TT; k++)
          leaks += m.enc.keymask[(bh / cfg.enc.heads) * TT + k] == 0.0f &&
                   m.enc.ba[blk].att[((size_t)bh * TT + q) * TT + k] != 0.0f;
  /* 40 points: 20 probed, 4 kept, 3 random, 13 masked; 29 of 40: 14, 2, 2, 10 masked, 11 padded. */
  EXPECT(hidden == 13 + 10 + 11, "%d hidden keys, expected 13 + 10 masked and 11 padded", hidden);
  EXPECT(leaks == 0, "%d attention probabilities on hidden keys", leaks);
  float before[B * TT];
  memcpy(before, m.enc.pred, sizeof before);
  for (int i = 0; i < B * TT; i++)
    if (b.replace[i] != 0 || b.valid[i] == 0)
      b.input[i] = 123.0f; /* what the token or padding hides */
  lcfm_astromer_forward(&m.enc, &m.params,
                        &(lcfm_nn_series){b.times, b.input, b.valid, b.replace, B}, 0, 0, 0);
  for (int i = 0; i < B * TT; i++)
    if (b.valid[i] != 0)
      EXPECT(m.enc.pred[i] == before[i], "prediction %d changed with a hidden value", i);
  lcfm_masked_batch_free(&b);
  lcfm_astromer2_free(&m);
}

/* The list's two stores loaded whole: the reference. */
typedef struct {
  lcfm_curves part[2];
  int64_t first_point[2];
} reference;

static const lcfm_curves *locate(const reference *r, int64_t row, int64_t *local, int *k) {
  *k = row >= r->part[0].count;
  *local = row - (*k ? r->part[0].count : 0);
  return &r->part[*k];
}

/* Row `row` of `got` against the window of object `o` from `start` cut from the reference. */
static void expect_window(const reference *r, const lcfm_window_sampler *s,
                          const lcfm_masked_batch *got, int row, int64_t o, int64_t start,
                          uint32_t stream, uint64_t key, const char *what) {
  int k;
  int64_t j;
  const lcfm_curves *c = locate(r, o, &j, &k);
  int64_t at = c->offset[j] + start, n = c->length[j] - start < s->T ? c->length[j] - start : s->T;
  lcfm_masked_batch want;
  lcfm_masked_batch_alloc(&want, 1, s->T);
  lcfm_astromer2_window(&want, 0, c->time + at, c->value + at, c->error + at, (int)n, &s->probing,
                        s->seed, stream, key);
  size_t off = (size_t)row * s->T, bytes = (size_t)s->T * sizeof(float);
  int same = got->object[row] == o && got->length[row] == want.length[0] &&
             !memcmp(got->times + off, want.times, bytes) &&
             !memcmp(got->target + off, want.target, bytes) &&
             !memcmp(got->input + off, want.input, bytes) &&
             !memcmp(got->errors + off, want.errors, bytes) &&
             !memcmp(got->probed + off, want.probed, bytes) &&
             !memcmp(got->replace + off, want.replace, bytes) &&
             !memcmp(got->weight + off, want.weight, bytes);
  EXPECT(same,
         "%s: row %d (object %lld from %lld) differs from the window of the stores loaded whole",
         what, row, (long long)o, (long long)start);
  lcfm_masked_batch_free(&want);
}

static void make_stores(char *dir, char *paths, size_t len) {
  strcpy(dir, "test_astromer_windows_XXXXXX");
  LCFM_CHECK(mkdtemp(dir), "mkdtemp");
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, 0, NULL);
  for (int k = 0; k < 2; k++) {
    lcfm_labelled_config sim = {.base = {.stars = 14 + 9 * k,
                                         .curves_per_star = 2,
                                         .noise_sigma = 0.03,
                                         .stars_per_field = 10,
                                         .block_stars = 5,
                                         .seed = 31 + (uint64_t)k},
                                .classes = 3,
                                .min_points = 10,
                                .max_points = 130,
                                .seasons = 2};
    char path[512];
    snprintf(path, sizeof path, "%s/s%d.h5", dir, k);
    lcfm_simulate_labelled_store(MPI_COMM_WORLD, &sim, path, &prov);
  }
  snprintf(paths, len, "%s/s0.h5 %s/s1.h5", dir, dir);
}

static void test_sampler(void) {
  enum { W = 40, SLOTS = 8, VALIDATION = 20 };
  char dir[64], paths[256], why[1024];
  make_stores(dir, paths, sizeof paths);
  lcfm_astro_stores stores;
  EXPECT(!lcfm_astro_stores_open(&stores, MPI_COMM_WORLD, paths, why, sizeof why), "%s", why);
  reference r;
  for (int k = 0; k < 2; k++) {
    char path[128];
    snprintf(path, sizeof path, "%s/s%d.h5", dir, k);
    LCFM_CHECK(!lcfm_curves_load(&r.part[k], MPI_COMM_WORLD, path, why, sizeof why), "%s", why);
  }
  r.first_point[0] = 0,
  r.first_point[1] = 0; /* the list numbers store 1's points after store 0's */
  for (int64_t j = 0; j < r.part[0].count; j++) r.first_point[1] += r.part[0].length[j];
  EXPECT(lcfm_astro_stores_objects(&stores) == r.part[0].count + r.part[1].count,
         "%lld objects in the list", (long long)lcfm_astro_stores_objects(&stores));
  lcfm_probing p = {0.5, 0.2, 0.2};
  lcfm_window_sampler s;
  EXPECT(!lcfm_window_sampler_init(&s, &stores, 9, 0.3, W, &p, VALIDATION, why, sizeof why), "%s",
         why);
  EXPECT(s.eval_count == VALIDATION, "%lld validation windows, expected %d",
         (long long)s.eval_count, VALIDATION);
  lcfm_masked_batch b, part;
  lcfm_masked_batch_alloc(&b, SLOTS, W);
  lcfm_masked_batch_alloc(&part, SLOTS, W);
  int from[2] = {0, 0};
  for (int64_t step = 0; step < 30; step++) {
    lcfm_window_sampler_train(&s, &b, step, SLOTS, 0, SLOTS);
    lcfm_window_sampler_train(&s, &part, step, SLOTS, 3, 5); /* a rank's share: slots 3..7 */
    for (int row = 0; row < SLOTS; row++) {
      lcfm_index_object o;
      int64_t start, j;
      int k;
      lcfm_window_sampler_draw(&s, step, row, 1, &o, &start);
      const lcfm_curves *c = locate(&r, o.row, &j, &k);
      from[k]++;
      EXPECT(!lcfm_window_sampler_is_validation(&s, c->source[j]),
             "a held-out object was drawn for training");
      EXPECT(start >= 0 && (start + W <= c->length[j] || start == 0),
             "step %lld slot %d: window %lld+%d of %d", (long long)step, row, (long long)start, W,
             c->length[j]);
      expect_window(&r, &s, &b, row, o.row, start, LCFM_STREAM_ASTRO_PROBE,
                    (uint64_t)(step * SLOTS + row), "training");
      if (row >= 3)
        expect_window(&r, &s, &part, row - 3, o.row, start, LCFM_STREAM_ASTRO_PROBE,
                      (uint64_t)(step * SLOTS + row), "a rank's share");
    }
  }
  EXPECT(from[0] > 0 && from[1] > 0, "training windows came from stores 0 and 1: %d and %d",
         from[0], from[1]);
  for (int64_t first = 0; first < VALIDATION; first += SLOTS) {
    int64_t count = VALIDATION - first < SLOTS ? VALIDATION - first : SLOTS;
    lcfm_window_sampler_eval(&s, &b, first, count);
    for (int row = 0; row < count; row++) {
      lcfm_index_object o;
      int64_t start, j;
      int k;
      lcfm_window_sampler_eval_draw(&s, first + row, 1, &o, &start);
      const lcfm_curves *c = locate(&r, o.row, &j, &k);
      EXPECT(lcfm_window_sampler_is_validation(&s, c->source[j]) && start % W == 0 &&
                 start < c->length[j],
             "validation window %lld: object %lld from %lld", (long long)(first + row),
             (long long)o.row, (long long)start);
      expect_window(&r, &s, &b, row, o.row, start, LCFM_STREAM_ASTRO_EVAL_PROBE,
                    (uint64_t)(first + row), "validation");
    }
  }
  /* Every held-out window, walked in two shares of the rows, each in batches of 7. */
  int64_t expected = 0, seen = 0, N = lcfm_astro_stores_objects(&stores), half = N / 2 + 3;
  for (int64_t o = 0; o < N; o++) {
    int64_t j;
    int k;
    const lcfm_curves *c = locate(&r, o, &j, &k);
    if (c->length[j] > 0 && lcfm_window_sampler_is_validation(&s, c->source[j]))
      expected += (c->length[j] + W - 1) / W;
  }
  lcfm_masked_batch seven;
  lcfm_masked_batch_alloc(&seven, 7, W);
  for (int share = 0; share < 2; share++) {
    lcfm_held_out_windows w;
    lcfm_held_out_windows_begin(&w, share ? half : 0, share ? N - half : half);
    int64_t last_object = -1, next_start = 0;
    while (lcfm_window_sampler_held_out(&s, &w, &seven))
      for (int row = 0; row < seven.rows; row++, seen++) {
        int64_t o = seven.object[row], j;
        int k;
        const lcfm_curves *c = locate(&r, o, &j, &k);
        if (o != last_object) last_object = o, next_start = 0;
        expect_window(&r, &s, &seven, row, o, next_start, LCFM_STREAM_ASTRO_SCORE_PROBE,
                      (uint64_t)(r.first_point[k] + c->offset[j] + next_start), "held out");
        next_start += W;
      }
    lcfm_held_out_windows_end(&w);
  }
  EXPECT(seen == expected && expected > 0, "%lld held-out windows walked, expected %lld",
         (long long)seen, (long long)expected);
  lcfm_masked_batch_free(&seven);
  lcfm_masked_batch_free(&b);
  lcfm_masked_batch_free(&part);
  lcfm_window_sampler_free(&s);
  lcfm_astro_stores_close(&stores);
  for (int k = 0; k < 2; k++) lcfm_curves_free(&r.part[k]);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  lcfm_log_init(MPI_COMM_WORLD);
  lcfm_nn_set_threads(1);
  test_probing();
  test_attention_mask();
  test_sampler();
  return lcfm_test_finish("test_astromer_windows");
}
