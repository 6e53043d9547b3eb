/* test_astromer_windows.c: Astromer 2's masked windows and attention mask on known windows.
 *   - 200 valid points: exactly 100 probed, 20 kept, 16 random (values of the same window), 64
 *     replaced by the mask token; the rest untouched; 150 valid of 200: 75 / 15 / 12 / 48, padding
 *     all zero and never probed;
 *   - zero means of time, magnitude and error over the valid points; error weights span
 *     [1e-3, 1.001]; non-positive errors take the smallest positive one;
 *   - keyed: the same key gives the same window, another key another probing;
 *   - the encoder's key mask is valid (1 - replace): attention to masked and padded keys is
 *     exactly 0, and what sits at those positions cannot change any prediction;
 *   - the sampler: split by source, windows inside the light curve, evaluation windows cover the
 *     held-out objects. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/astromer.h"
#include "lcfm/error.h"
#include "lcfm/log.h"

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

static void check_row(const lcfm_masked_batch *b, int row, int n, int probed, int keep, int random) {
  counts c = count_row(b, row);
  EXPECT(c.valid == n, "row %d: %d valid points, expected %d", row, c.valid, n);
  EXPECT(c.probed == probed, "row %d: %d probed, expected %d", row, c.probed, probed);
  EXPECT(c.replaced == probed - keep - random, "row %d: %d mask tokens, expected %d", row, c.replaced, probed - keep - random);
  EXPECT(c.kept_or_random == keep + random, "row %d: %d kept or random", row, c.kept_or_random);
  /* A random position may draw itself (probability 1/n each): allow two such draws. */
  EXPECT(c.changed <= random && c.changed >= random - 2, "row %d: %d probed values changed, expected about %d", row,
         c.changed, random);
  double st = 0, sv = 0, se = 0;
  for (int t = 0; t < T; t++) {
    size_t i = (size_t)row * T + t;
    if (t >= n) {
      EXPECT(b->times[i] == 0 && b->target[i] == 0 && b->input[i] == 0 && b->errors[i] == 0 && b->weight[i] == 0 &&
                 b->probed[i] == 0 && b->replace[i] == 0,
             "row %d: padding %d is not all zero", row, t);
      continue;
    }
    st += b->times[i], sv += b->target[i], se += b->errors[i];
    if (b->probed[i] == 0) EXPECT(b->input[i] == b->target[i], "row %d: unprobed point %d changed", row, t);
    if (b->replace[i] != 0) EXPECT(b->input[i] == 0.0f, "row %d: masked point %d keeps a value", row, t);
    if (b->probed[i] != 0 && b->replace[i] == 0) { /* kept, or a value found elsewhere in the window */
      int found = 0;
      for (int u = 0; u < n && !found; u++) found = b->target[(size_t)row * T + u] == b->input[i];
      EXPECT(found, "row %d: probed point %d has a value from outside its window", row, t);
    }
  }
  EXPECT(fabs(st) < 1e-3 * n && fabs(sv) < 1e-4 * n && fabs(se) < 1e-5 * n, "row %d: not zero-meaned (%g %g %g)", row,
         st, sv, se);
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
  EXPECT(!memcmp(b.probed, b.probed + 2 * T, T * sizeof(float)) && !memcmp(b.input, b.input + 2 * T, T * sizeof(float)),
         "the same key gave another window");
  lcfm_astromer2_window(&b, 3, time, value, error, T, &p, 7, LCFM_STREAM_ASTRO_PROBE, 13);
  EXPECT(memcmp(b.probed, b.probed + 3 * T, T * sizeof(float)), "another key gave the same probing");
  /* Weights: 1/error min-max normalised + 1e-3 (largest error -> 1e-3, smallest -> 1.001). */
  float lo = 10, hi = -10;
  for (int t = 0; t < T; t++) lo = fminf(lo, b.weight[t]), hi = fmaxf(hi, b.weight[t]);
  EXPECT_NEAR(lo, 1e-3, 1e-6, "smallest weight");
  EXPECT_NEAR(hi, 1.001, 1e-5, "largest weight");
  /* Unusable errors take the smallest positive one (weight 1.001), without aborting. */
  error[5] = 0.0f, error[6] = -1.0f, error[7] = NAN;
  lcfm_astromer2_window(&b, 0, time, value, error, T, NULL, 0, 0, 0);
  EXPECT(b.weight[5] == b.weight[6] && b.weight[6] == b.weight[7] && fabsf(b.weight[5] - 1.001f) < 1e-5f,
         "weights of unusable errors: %g %g %g", b.weight[5], b.weight[6], b.weight[7]);
  counts c = count_row(&b, 0);
  EXPECT(c.probed == 0 && c.replaced == 0, "an embedding window was probed");
  lcfm_masked_batch_free(&b);
}

/* Attention never looks at masked or padded keys, and their contents cannot reach a prediction. */
static void test_attention_mask(void) {
  enum { TT = 40, B = 2 };
  lcfm_astromer2_config cfg = {.enc = lcfm_astromer_defaults(), .probing = {0.5, 0.2, 0.2}};
  cfg.enc.d = 16, cfg.enc.heads = 2, cfg.enc.ff = 16, cfg.enc.blocks = 2, cfg.enc.T = TT, cfg.enc.max_batch = B;
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
  lcfm_astromer_forward(&m.enc, &m.params, b.times, b.input, b.valid, b.replace, B, 0, 0, 0);
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
          leaks += m.enc.keymask[(bh / cfg.enc.heads) * TT + k] == 0.0f && m.enc.ba[blk].att[((size_t)bh * TT + q) * TT + k] != 0.0f;
  /* 40 points: 20 probed, 4 kept, 3 random, 13 masked; 29 of 40: 14, 2, 2, 10 masked, 11 padded. */
  EXPECT(hidden == 13 + 10 + 11, "%d hidden keys, expected 13 + 10 masked and 11 padded", hidden);
  EXPECT(leaks == 0, "%d attention probabilities on hidden keys", leaks);
  float before[B * TT];
  memcpy(before, m.enc.pred, sizeof before);
  for (int i = 0; i < B * TT; i++)
    if (b.replace[i] != 0 || b.valid[i] == 0) b.input[i] = 123.0f; /* what the token or padding hides */
  lcfm_astromer_forward(&m.enc, &m.params, b.times, b.input, b.valid, b.replace, B, 0, 0, 0);
  for (int i = 0; i < B * TT; i++)
    if (b.valid[i] != 0) EXPECT(m.enc.pred[i] == before[i], "prediction %d changed with a hidden value", i);
  lcfm_masked_batch_free(&b);
  lcfm_astromer2_free(&m);
}

static void test_sampler(void) {
  enum { OBJECTS = 40 };
  lcfm_curves c = {0};
  c.count = OBJECTS;
  int64_t points = 0;
  c.source = lcfm_malloc(OBJECTS * sizeof *c.source), c.offset = lcfm_malloc(OBJECTS * sizeof *c.offset);
  c.length = lcfm_malloc(OBJECTS * sizeof *c.length), c.instrument = lcfm_calloc(OBJECTS, sizeof *c.instrument);
  c.label = lcfm_calloc(OBJECTS, sizeof *c.label);
  for (int i = 0; i < OBJECTS; i++) c.source[i] = i / 2, c.length[i] = 50 + 37 * i, c.offset[i] = points, points += c.length[i];
  c.time = lcfm_malloc((size_t)points * sizeof *c.time), c.value = lcfm_malloc((size_t)points * sizeof *c.value);
  c.error = lcfm_malloc((size_t)points * sizeof *c.error);
  for (int64_t i = 0; i < points; i++) c.time[i] = (double)i, c.value[i] = (float)(i % 13), c.error[i] = 0.1f;
  lcfm_probing p = {0.5, 0.2, 0.2};
  lcfm_window_sampler s;
  char why[256];
  EXPECT(!lcfm_window_sampler_init(&s, &c, 9, 0.3, T, &p, why, sizeof why), "%s", why);
  EXPECT(s.count[0] + s.count[1] == OBJECTS && s.count[1] > 0 && s.count[0] > 0, "split %lld / %lld",
         (long long)s.count[0], (long long)s.count[1]);
  for (int64_t i = 0; i < s.count[1]; i++) /* both objects of a source on the same side */
    for (int64_t j = 0; j < s.count[0]; j++)
      EXPECT(c.source[s.objects[1][i]] != c.source[s.objects[0][j]], "source split across training and validation");
  int64_t windows = 0;
  for (int64_t i = 0; i < s.count[1]; i++) windows += (c.length[s.objects[1][i]] + T - 1) / T;
  EXPECT(s.eval_count == windows, "%lld evaluation windows, expected %lld", (long long)s.eval_count, (long long)windows);
  lcfm_masked_batch b;
  lcfm_masked_batch_alloc(&b, 8, T);
  for (int64_t k = 0; k < 50; k++) {
    lcfm_window_sampler_train(&s, &b, k, 8, 0, 8);
    for (int r = 0; r < 8; r++) {
      int64_t o = b.object[r], object, start;
      lcfm_window_sampler_draw(&s, k, r, &object, &start);
      EXPECT(object == o && start >= 0 && (start + T <= c.length[o] || start == 0), "step %lld slot %d: window %lld+%d of %d",
             (long long)k, r, (long long)start, T, c.length[o]);
      int held_out = 0;
      for (int64_t i = 0; i < s.count[1]; i++) held_out |= s.objects[1][i] == o;
      EXPECT(!held_out, "a held-out object was drawn for training");
      EXPECT(b.length[r] == (c.length[o] < T ? c.length[o] : T), "window length %d", b.length[r]);
    }
  }
  lcfm_masked_batch_free(&b);
  lcfm_window_sampler_free(&s);
  lcfm_curves_free(&c);
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
