/* test_nn_losses.c: the four losses against finite differences and against direct double-precision
 * formulas (masked positions included); InfoNCE over a batch gathered from all ranks; Adam and
 * AdamW against hand-computed steps; the independence penalty (finite differences, moments over ranks); gradient clipping; the parameter table (alignment, names,
 * one buffer per role) and non-finite detection naming the tensor. Run with 1 and 2 ranks. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_fd.h"

typedef struct {
  float *pred, *dpred, *target, *weight, *mask;
  int64_t *key;
  int *cls;
  float *scratch;
  int B, T, N, D, K;
  int kind;
} loss_ctx;

static double loss_eval(loss_ctx *c, float *grad) {
  switch (c->kind) {
  case 0: return lcfm_loss_masked_mse(grad, c->pred, c->target, c->mask, (size_t)c->B * c->T, 1.0f);
  case 1:
    return lcfm_loss_astromer_rmse(grad, c->pred, c->target, c->weight, c->mask, c->B, c->T, 1.0f);
  case 2: return lcfm_loss_infonce(grad, c->pred, c->key, c->N, c->D, 0.5f, c->scratch, 1.0f);
  default: return lcfm_loss_softmax_xent(grad, c->pred, c->cls, c->N, c->K, 1.0f);
  }
}
static double loss_obj(void *p) { return loss_eval(p, NULL); }
static void loss_grad(void *p) {
  loss_ctx *c = p;
  loss_eval(c, c->dpred);
}

static float *buf(size_t n) { return lcfm_calloc(n + 16, sizeof(float)); }

static void run_fd(loss_ctx *c, const char *name, size_t n) {
  fd_case fc;
  memset(&fc, 0, sizeof fc);
  fc.name = name, fc.objective = loss_obj, fc.gradient = loss_grad, fc.ctx = c;
  fc.eps = 1e-3f, fc.tol = 2e-2, fc.floor = 1e-3;
  fc.t[fc.nt++] = (fd_tensor){"pred", c->pred, c->dpred, n};
  fd_check(&fc);
}

static void test_mse_and_rmse(int B, int T) {
  loss_ctx c = {0};
  c.B = B, c.T = T;
  size_t n = (size_t)B * T;
  c.pred = buf(n), c.dpred = buf(n), c.target = buf(n), c.weight = buf(n), c.mask = buf(n);
  float *err = buf(n), *valid = buf(n);
  fd_fill(c.pred, n, -1, 1, 1);
  fd_fill(c.target, n, -1, 1, 2);
  fd_fill(err, n, 0.05, 0.5, 3);
  for (size_t i = 0; i < n; i++) {
    c.mask[i] = (i % 3) != 1;         /* probed points */
    valid[i] = i % T < (size_t)T - 1; /* last point of each window is padding */
    if (!valid[i]) c.mask[i] = 0;
  }
  lcfm_astromer_weights(c.weight, err, valid, B, T);
  /* weights: padding 0, the smallest-error point of a window gets 1 + 1e-3, the largest 1e-3 */
  for (int b = 0; b < B; b++) {
    double lo = 1e9, hi = -1e9;
    for (int t = 0; t < T - 1; t++)
      lo = fmin(lo, c.weight[b * T + t]), hi = fmax(hi, c.weight[b * T + t]);
    EXPECT_NEAR(lo, 1e-3, 1e-6, "astromer weight minimum");
    EXPECT_NEAR(hi, 1.001, 1e-6, "astromer weight maximum");
    EXPECT(c.weight[b * T + T - 1] == 0.0f, "astromer weight of padding");
  }
  char name[64];
  c.kind = 0;
  double ref = 0, cnt = 0;
  for (size_t i = 0; i < n; i++)
    ref += c.mask[i] * pow((double)c.pred[i] - c.target[i], 2), cnt += c.mask[i];
  EXPECT_NEAR(loss_obj(&c), ref / cnt, 1e-12, "masked mse value");
  snprintf(name, sizeof name, "masked mse B=%d T=%d", B, T);
  run_fd(&c, name, n);
  int zero = 1;
  for (size_t i = 0; i < n; i++)
    if (c.mask[i] == 0.0f) zero &= c.dpred[i] == 0.25f;
  EXPECT(zero, "masked mse: gradient at a masked point");
  c.kind = 1;
  double tot = 0;
  for (int b = 0; b < B; b++) {
    double s = 0, m = 0;
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      s += c.weight[i] * c.mask[i] * pow((double)c.pred[i] - c.target[i], 2), m += c.mask[i];
    }
    tot += m > 0 ? s / m : 0;
  }
  EXPECT_NEAR(loss_obj(&c), sqrt(tot / B), 1e-12, "astromer rmse value");
  snprintf(name, sizeof name, "astromer rmse B=%d T=%d", B, T);
  memset(c.dpred, 0, n * sizeof(float));
  run_fd(&c, name, n);
  free(c.pred), free(c.dpred), free(c.target), free(c.weight), free(c.mask), free(err), free(valid);
}

/* Direct double-precision InfoNCE for comparison. */
static double infonce_ref(const float *z, const int64_t *key, int N, int D, double tau) {
  double u[64][8];
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)z[i * D + d] * z[i * D + d];
    for (int d = 0; d < D; d++) u[i][d] = z[i * D + d] / sqrt(s);
  }
  double loss = 0;
  int anchors = 0;
  for (int i = 0; i < N; i++) {
    double den = 0, num = 0;
    int np = 0;
    for (int k = 0; k < N; k++) {
      if (k == i) continue;
      double s = 0;
      for (int d = 0; d < D; d++) s += u[i][d] * u[k][d];
      den += exp(s / tau);
      if (key[k] == key[i]) num += s / tau, np++;
    }
    if (!np) continue;
    anchors++;
    loss -= (num - np * log(den)) / np;
  }
  return loss / anchors;
}

static void test_infonce(void) {
  int N = 7, D = 5;
  int64_t key[7] = {3, 3, 8, 8, 8, 1, 4}; /* 3 has one positive, 8 two each; 1 and 4 none */
  loss_ctx c = {0};
  c.kind = 2, c.N = N, c.D = D, c.key = key;
  c.pred = buf((size_t)N * D), c.dpred = buf((size_t)N * D);
  c.scratch = buf(lcfm_loss_infonce_scratch_floats(N, D));
  fd_fill(c.pred, (size_t)N * D, -1, 1, 5);
  EXPECT_NEAR(loss_obj(&c), infonce_ref(c.pred, key, N, D, 0.5), 1e-5, "infonce value");
  run_fd(&c, "infonce (several positives, unmatched anchors)", (size_t)N * D);
  /* Gathered batch: each rank owns a slice, all-gathers, and must get the full-batch rows. */
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) {
    int per = 3, G = per * size;
    float *local = buf((size_t)per * D), *all = buf((size_t)G * D), *dz = buf((size_t)G * D);
    int64_t *gk = lcfm_malloc(sizeof(int64_t) * (size_t)G);
    for (int i = 0; i < G; i++) gk[i] = i % 4;
    for (int i = 0; i < per * D; i++)
      local[i] = (float)lcfm_rng_normal(3, 3, (uint64_t)(rank * per * D + i));
    MPI_Allgather(local, per * D, MPI_FLOAT, all, per * D, MPI_FLOAT, MPI_COMM_WORLD);
    float *scr = buf(lcfm_loss_infonce_scratch_floats(G, D));
    double l = lcfm_loss_infonce(dz, all, gk, G, D, 0.2f, scr, 1.0f);
    /* reference: rank-independent regeneration of the whole batch on one process */
    float *ref = buf((size_t)G * D), *dref = buf((size_t)G * D);
    for (int i = 0; i < G * D; i++) ref[i] = (float)lcfm_rng_normal(3, 3, (uint64_t)i);
    double lr = lcfm_loss_infonce(dref, ref, gk, G, D, 0.2f, scr, 1.0f);
    EXPECT(l == lr, "gathered infonce differs: %.17g vs %.17g", l, lr);
    EXPECT(memcmp(dz + (size_t)rank * per * D, dref + (size_t)rank * per * D,
                  sizeof(float) * (size_t)per * D) == 0,
           "gathered infonce: this rank's gradient rows differ");
    /* By rows: this rank's anchors only; losses summed and gradients reduce-scattered over ranks
     * give the whole batch's loss and this rank's rows of its gradient. */
    float *dz_rows = buf((size_t)G * D), *mine = buf((size_t)per * D);
    float *scr_rows = buf(lcfm_loss_infonce_rows_scratch_floats(per, G, D));
    double part = lcfm_loss_infonce_rows(dz_rows, all, gk, G, D, 0.2f, rank * per, rank * per + per,
                                         scr_rows, 1.0f);
    double whole = 0;
    MPI_Allreduce(&part, &whole, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Reduce_scatter_block(dz_rows, mine, per * D, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_NEAR(whole, lr, 1e-6 * fabs(lr),
                "infonce by rows: the ranks' losses do not add up to the batch's");
    double worst = 0, largest = 0;
    for (int i = 0; i < per * D; i++) {
      worst = fmax(worst, fabs(mine[i] - dref[(size_t)rank * per * D + i]));
      largest = fmax(largest, fabs(dref[(size_t)rank * per * D + i]));
    }
    EXPECT(worst <= 1e-6 * fmax(largest, 1e-3) && largest > 1e-4,
           "infonce by rows: gradient rows differ by %g (largest %g)", worst, largest);
    free(dz_rows), free(mine), free(scr_rows);
    free(local), free(all), free(dz), free(gk), free(scr), free(ref), free(dref);
  }
  free(c.pred), free(c.dpred), free(c.scratch);
}

/* InfoNCE by rows on many ranks, driven in one process: 300 slices of one anchor each (more
 * ranks than the 256 the gathered InfoNCE once allowed) add up to the whole batch. */
static void test_infonce_many_slices(void) {
  int G = 300, D = 6;
  float *z = buf((size_t)G * D), *dfull = buf((size_t)G * D), *dsum = buf((size_t)G * D),
        *dpart = buf((size_t)G * D);
  int64_t *key = lcfm_malloc(sizeof(int64_t) * (size_t)G);
  for (int i = 0; i < G * D; i++) z[i] = (float)lcfm_rng_normal(8, 1, (uint64_t)i);
  for (int i = 0; i < G; i++) key[i] = i % 37;
  float *scr = buf(lcfm_loss_infonce_scratch_floats(G, D));
  double full = lcfm_loss_infonce(dfull, z, key, G, D, 0.3f, scr, 1.0f), sum = 0;
  float *scr1 = buf(lcfm_loss_infonce_rows_scratch_floats(1, G, D));
  for (int r = 0; r < G;
       r++) { /* rank r: zero its share, compute it, add it as the reduction would */
    memset(dpart, 0, sizeof(float) * (size_t)G * D);
    sum += lcfm_loss_infonce_rows(dpart, z, key, G, D, 0.3f, r, r + 1, scr1, 1.0f);
    for (int i = 0; i < G * D; i++) dsum[i] += dpart[i];
  }
  double worst = 0, largest = 0;
  for (int i = 0; i < G * D; i++)
    worst = fmax(worst, fabs(dsum[i] - dfull[i])), largest = fmax(largest, fabs(dfull[i]));
  EXPECT_NEAR(sum, full, 1e-6 * fabs(full),
              "infonce by rows over 300 slices: losses do not add up");
  EXPECT(worst <= 1e-5 * largest && largest > 0,
         "infonce by rows over 300 slices: gradient differs by %g (largest %g)", worst, largest);
  free(z), free(dfull), free(dsum), free(dpart), free(key), free(scr), free(scr1);
}

static void test_xent(void) {
  int N = 4, K = 5;
  int cls[4] = {2, -1, 0, 4};
  loss_ctx c = {0};
  c.kind = 3, c.N = N, c.K = K, c.cls = cls;
  c.pred = buf((size_t)N * K), c.dpred = buf((size_t)N * K);
  fd_fill(c.pred, (size_t)N * K, -2, 2, 6);
  double ref = 0;
  for (int n = 0; n < N; n++) {
    if (cls[n] < 0) continue;
    double se = 0;
    for (int k = 0; k < K; k++) se += exp(c.pred[n * K + k]);
    ref += (log(se) - c.pred[n * K + cls[n]]) / 3.0;
  }
  EXPECT_NEAR(loss_obj(&c), ref, 1e-6, "softmax cross-entropy value");
  run_fd(&c, "softmax cross-entropy (ignored row)", (size_t)N * K);
  int zero = 1;
  for (int k = 0; k < K; k++) zero &= c.dpred[K + k] == 0.25f;
  EXPECT(zero, "cross-entropy: gradient on an ignored row");
  free(c.pred), free(c.dpred);
}

static void test_params_and_adam(void) {
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  size_t oa = lcfm_nn_params_add2(&p, LCFM_INIT_FANIN, 3, 5, "layer.a.w");
  size_t ob = lcfm_nn_params_add2(&p, LCFM_INIT_ZERO, 7, 0, "layer.a.b");
  size_t oc = lcfm_nn_params_add2(&p, LCFM_INIT_ONE, 2, 0, "layer.ln.w");
  lcfm_nn_params_alloc(&p);
  EXPECT(oa % 16 == 0 && ob % 16 == 0 && oc % 16 == 0, "views are not 64-byte aligned");
  EXPECT(ob >= oa + 15 && oc >= ob + 7, "views overlap");
  EXPECT(lcfm_nn_params_find(&p, "layer.a.b") == 1 && lcfm_nn_params_find(&p, "nope") == -1,
         "find by name");
  EXPECT(p.tensors[0].ndim == 2 && p.tensors[0].shape[1] == 5, "shape recorded");
  EXPECT(lcfm_nn_params_count(&p) == 24, "parameter count %zu", lcfm_nn_params_count(&p));
  lcfm_nn_params_init_default(&p, 11);
  EXPECT(p.params[oc] == 1.0f && p.params[ob] == 0.0f, "init kinds");
  int inside = 1;
  for (int i = 0; i < 15; i++) inside &= fabsf(p.params[oa + i]) <= 1.0f / sqrtf(5.0f);
  EXPECT(inside && p.params[oa] != p.params[oa + 1], "fan-in init");

  /* non-finite detection names the tensor */
  EXPECT(lcfm_nn_first_nonfinite(&p, p.grads, NULL) == -1, "clean buffer flagged");
  size_t el = 0;
  p.grads[ob + 4] = NAN;
  EXPECT(lcfm_nn_first_nonfinite(&p, p.grads, &el) == 1 && el == 4,
         "NaN not located (tensor, element %zu)", el);
  p.grads[ob + 4] = 0.0f;

  /* Adam against the textbook recursion in double, then AdamW's decoupled decay */
  for (int wd = 0; wd < 2; wd++) {
    lcfm_adam opt = {
        .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f, .weight_decay = wd ? 0.1f : 0.0f};
    memset(p.m, 0, p.total * sizeof(float));
    memset(p.v, 0, p.total * sizeof(float));
    double w = p.params[oa + 3], m = 0, v = 0;
    for (int s = 1; s <= 5; s++) {
      double g = 0.3 * s - 0.7;
      lcfm_nn_params_zero_grad(&p);
      p.grads[oa + 3] = (float)g;
      lcfm_adam_step(&opt, &p);
      m = 0.9 * m + 0.1 * g;
      v = 0.98 * v + 0.02 * g * g;
      if (wd) w -= 0.01 * 0.1 * w;
      w -= 0.01 * (m / (1 - pow(0.9, s))) / (sqrt(v / (1 - pow(0.98, s))) + 1e-9);
    }
    EXPECT_NEAR(p.params[oa + 3], w, 2e-6, wd ? "adamw trajectory" : "adam trajectory");
    EXPECT(opt.step == 5, "adam step counter");
  }

  /* clipping */
  lcfm_nn_params_zero_grad(&p);
  p.grads[oa] = 3.0f, p.grads[oc + 1] = 4.0f;
  EXPECT_NEAR(lcfm_nn_grad_norm(&p), 5.0, 1e-6, "gradient norm");
  double before = lcfm_nn_clip_grad_norm(&p, 1.0);
  EXPECT_NEAR(before, 5.0, 1e-6, "norm before clipping");
  EXPECT_NEAR(lcfm_nn_grad_norm(&p), 1.0, 1e-5, "norm after clipping");
  lcfm_nn_clip_grad_norm(&p, 10.0);
  EXPECT_NEAR(lcfm_nn_grad_norm(&p), 1.0, 1e-5, "clipping below the threshold changed gradients");
  lcfm_nn_params_free(&p);
}

/* Independence penalty (squared batch cross-correlation): value against a two-pass double
 * formula, gradients of both latents by finite differences, and the moments summed over ranks
 * giving the whole batch's loss and this rank's rows of its gradient. */
typedef struct {
  float *a, *b, *da, *db;
  int rows, Da, Db;
} xcorr_ctx;

static double xcorr_eval(xcorr_ctx *c, int with_grad) {
  double *m = lcfm_calloc(lcfm_xcorr_moments_size(c->Da, c->Db), sizeof *m);
  lcfm_xcorr_moments(m, c->a, c->b, c->rows, c->Da, c->Db);
  double l = lcfm_loss_xcorr(with_grad ? c->da : NULL, with_grad ? c->db : NULL, c->a, c->b,
                             c->rows, m, c->Da, c->Db, 1.0f);
  free(m);
  return l;
}
static double xcorr_obj(void *p) { return xcorr_eval(p, 0); }
static void xcorr_grad(void *p) { xcorr_eval(p, 1); }

static double xcorr_ref(const float *a, const float *b, int N, int Da, int Db) {
  double loss = 0;
  for (int j = 0; j < Da; j++)
    for (int k = 0; k < Db; k++) {
      double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (int i = 0; i < N; i++) ma += a[i * Da + j] / (double)N, mb += b[i * Db + k] / (double)N;
      for (int i = 0; i < N; i++) {
        double x = a[i * Da + j] - ma, y = b[i * Db + k] - mb;
        saa += x * x / N, sbb += y * y / N, sab += x * y / N;
      }
      double rho = sab / (sqrt(saa + 1e-6) * sqrt(sbb + 1e-6));
      loss += rho * rho / ((double)Da * Db);
    }
  return loss;
}

static void test_xcorr(void) {
  xcorr_ctx c = {0};
  c.rows = 9, c.Da = 4, c.Db = 3;
  size_t na = (size_t)c.rows * c.Da, nb = (size_t)c.rows * c.Db;
  c.a = buf(na), c.b = buf(nb), c.da = buf(na), c.db = buf(nb);
  fd_fill(c.a, na, -1, 1, 11);
  fd_fill(c.b, nb, -1, 1, 12);
  for (int i = 0; i < c.rows; i++)
    c.b[i * c.Db] += 0.8f * c.a[i * c.Da + 1]; /* a correlated pair */
  EXPECT_NEAR(xcorr_obj(&c), xcorr_ref(c.a, c.b, c.rows, c.Da, c.Db), 1e-9, "xcorr value");
  fd_case fc;
  memset(&fc, 0, sizeof fc);
  fc.name = "independence (cross-correlation)", fc.objective = xcorr_obj, fc.gradient = xcorr_grad,
  fc.ctx = &c;
  fc.eps = 1e-3f, fc.tol = 2e-2, fc.floor = 1e-3;
  fc.t[fc.nt++] = (fd_tensor){"z_star", c.a, c.da, na};
  fc.t[fc.nt++] = (fd_tensor){"z_instr", c.b, c.db, nb};
  fd_check(&fc);
  /* Each rank owns `per` rows of a batch regenerated identically everywhere. */
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int per = 5, G = per * size, Da = 4, Db = 3;
  float *A = buf((size_t)G * Da), *B = buf((size_t)G * Db), *dA = buf((size_t)G * Da),
        *dB = buf((size_t)G * Db);
  float *da = buf((size_t)per * Da), *db = buf((size_t)per * Db);
  for (int i = 0; i < G * Da; i++) A[i] = (float)lcfm_rng_normal(5, 1, (uint64_t)i);
  for (int i = 0; i < G * Db; i++)
    B[i] = (float)lcfm_rng_normal(5, 2, (uint64_t)i) + 0.5f * A[(i / Db) * Da];
  size_t msize = lcfm_xcorr_moments_size(Da, Db);
  double *m = lcfm_calloc(msize, sizeof *m), *mall = lcfm_calloc(msize, sizeof *mall);
  lcfm_xcorr_moments(m, A + (size_t)rank * per * Da, B + (size_t)rank * per * Db, per, Da, Db);
  MPI_Allreduce(m, mall, (int)msize, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double l = lcfm_loss_xcorr(da, db, A + (size_t)rank * per * Da, B + (size_t)rank * per * Db, per,
                             mall, Da, Db, 1.0f);
  lcfm_xcorr_moments(m, A, B, G, Da, Db);
  double lref = lcfm_loss_xcorr(dA, dB, A, B, G, m, Da, Db, 1.0f);
  EXPECT_NEAR(l, lref, 1e-12, "xcorr from moments summed over ranks");
  EXPECT(l > 1e-3, "xcorr of correlated latents is ~0 (%g): test is vacuous", l);
  double worst = 0;
  for (int i = 0; i < per * Da; i++)
    worst = fmax(worst, fabs(da[i] - dA[(size_t)rank * per * Da + i]));
  for (int i = 0; i < per * Db; i++)
    worst = fmax(worst, fabs(db[i] - dB[(size_t)rank * per * Db + i]));
  EXPECT(worst < 1e-7, "xcorr: this rank's gradient rows differ from the whole batch's by %g",
         worst);
  free(c.a), free(c.b), free(c.da), free(c.db), free(A), free(B), free(dA), free(dB), free(da),
      free(db), free(m), free(mall);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(1);
  test_mse_and_rmse(3, 6);
  test_mse_and_rmse(1, 5); /* batch of one */
  test_infonce();
  test_infonce_many_slices();
  test_xent();
  test_xcorr();
  test_params_and_adam();
  return lcfm_test_finish("test_nn_losses");
}
