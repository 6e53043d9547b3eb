/* losses.c: masked MSE, Astromer 2's uncertainty-weighted RMSE, the generalised InfoNCE of the
 * causal paper and softmax cross-entropy. Each returns the loss (as double) and accumulates
 * scale * dloss/dpred into the gradient buffer when one is given. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"

double lcfm_loss_masked_mse(float *dpred, const float *pred, const float *target, const float *mask,
                            size_t n, float scale) {
  double sum = 0.0, count = 0.0;
  for (size_t i = 0; i < n; i++) {
    double m = mask ? mask[i] : 1.0;
    double r = (double)pred[i] - target[i];
    sum += m * r * r;
    count += m;
  }
  double denom = count > 1.0 ? count : 1.0;
  if (dpred) {
    double f = 2.0 * scale / denom;
    for (size_t i = 0; i < n; i++) {
      double m = mask ? mask[i] : 1.0;
      dpred[i] += (float)(f * m * ((double)pred[i] - target[i]));
    }
  }
  return sum / denom;
}

double lcfm_loss_astromer_rmse(float *dpred, const float *pred, const float *target,
                               const float *weight, const float *mask, int B, int T, float scale) {
  double total = 0.0;
  for (int b = 0; b < B; b++) {
    double s = 0.0, m = 0.0;
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      double r = (double)pred[i] - target[i];
      s += (double)weight[i] * mask[i] * r * r;
      m += mask[i];
    }
    if (m > 0.0) total += s / m;
  }
  double mse = total / B;
  double loss = sqrt(mse);
  if (dpred && loss > 0.0) {
    for (int b = 0; b < B; b++) {
      double m = 0.0;
      for (int t = 0; t < T; t++) m += mask[(size_t)b * T + t];
      if (m <= 0.0) continue;
      double f = scale / (loss * B * m);
      for (int t = 0; t < T; t++) {
        size_t i = (size_t)b * T + t;
        dpred[i] += (float)(f * weight[i] * mask[i] * ((double)pred[i] - target[i]));
      }
    }
  }
  return loss;
}

void lcfm_astromer_weights(float *weight, const float *err, const float *valid, int B, int T) {
  for (int b = 0; b < B; b++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      if (valid[i] == 0.0f) continue;
      LCFM_CHECK(err[i] > 0.0f,
                 "nn: Astromer weights need positive errors (window %d, point %d: %g)", b, t,
                 (double)err[i]);
      double e = 1.0 / err[i];
      lo = e < lo ? e : lo;
      hi = e > hi ? e : hi;
    }
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      if (valid[i] == 0.0f) {
        weight[i] = 0.0f;
        continue;
      }
      double e = 1.0 / err[i];
      weight[i] = (float)((hi > lo ? (e - lo) / (hi - lo) : 1.0) + 1e-3);
    }
  }
}

/* Unit vectors U [N, D] of z and their norms (F.normalize's eps). */
static void infonce_normalise(float *U, float *norms, const float *z, int N, int D) {
  for (int i = 0; i < N; i++) {
    double s = 0.0;
    for (int d = 0; d < D; d++) s += (double)z[(size_t)i * D + d] * z[(size_t)i * D + d];
    norms[i] = (float)fmax(sqrt(s), 1e-12);
    for (int d = 0; d < D; d++) U[(size_t)i * D + d] = (float)(z[(size_t)i * D + d] / norms[i]);
  }
}

static int infonce_positives(const int64_t *key, int N, int i) {
  int np = 0;
  for (int j = 0; j < N; j++) np += j != i && key[j] == key[i];
  return np;
}

/* Anchor i's loss term (already divided by |P(i)| |A|); overwrites its similarity row with
 * G_i = dloss/dS_i (zero on the diagonal). */
static double infonce_anchor(float *row, const int64_t *key, int N, int i, int np, int anchors) {
  double mx = -INFINITY;
  for (int k = 0; k < N; k++)
    if (k != i && row[k] > mx) mx = row[k];
  double se = 0.0;
  for (int k = 0; k < N; k++)
    if (k != i) se += exp((double)row[k] - mx);
  double lse = mx + log(se), li = 0.0;
  for (int j = 0; j < N; j++)
    if (j != i && key[j] == key[i]) li += (double)row[j] - lse;
  for (int k = 0; k < N; k++) {
    double pos = key[k] == key[i] ? 1.0 / np : 0.0;
    row[k] = k == i ? 0.0f : (float)((exp((double)row[k] - lse) - pos) / anchors);
  }
  return -li / np / anchors;
}

double lcfm_loss_infonce_rows(float *dz, const float *z, const int64_t *key, int N, int D,
                              float tau, int r0, int r1, float *scratch, float scale) {
  LCFM_CHECK(tau > 0.0f, "nn: InfoNCE temperature must be positive, got %g", (double)tau);
  LCFM_CHECK(0 <= r0 && r0 <= r1 && r1 <= N, "nn: InfoNCE rows [%d, %d) outside the batch of %d",
             r0, r1, N);
  int R = r1 - r0;
  float *S = scratch;                /* [R, N] similarities of the anchors, then dloss/dS */
  float *U = S + (size_t)R * N;      /* [N, D] unit vectors */
  float *dU = U + (size_t)N * D;     /* [N, D] dloss/dU */
  float *norms = dU + (size_t)N * D; /* [N] */
  infonce_normalise(U, norms, z, N, D);
  int anchors = 0; /* |A| over the whole batch: the same on every rank */
  for (int i = 0; i < N; i++) anchors += infonce_positives(key, N, i) > 0;
  if (R == 0 || anchors == 0) return 0.0;
  const float *Ur = U + (size_t)r0 * D;
  lcfm_nn_gemm(0, 1, R, N, D, 1.0f / tau, Ur, D, U, D, 0.0f, S, N);
  double loss = 0.0;
  for (int r = 0; r < R; r++) {
    float *row = S + (size_t)r * N;
    int np = infonce_positives(key, N, r0 + r);
    if (np == 0) memset(row, 0, sizeof(float) * (size_t)N);
    else loss += infonce_anchor(row, key, N, r0 + r, np, anchors);
  }
  if (!dz) return loss;
  /* dS_ik = G_ik / tau reaches u_i through row i and u_k through column k:
   * dU = G^T U_rows / tau (every row), plus G U / tau on the anchors' own rows. */
  lcfm_nn_gemm(1, 0, N, D, R, 1.0f / tau, S, N, Ur, D, 0.0f, dU, D);
  lcfm_nn_gemm(0, 0, R, D, N, 1.0f / tau, S, N, U, D, 1.0f, dU + (size_t)r0 * D, D);
  /* dz = (dU - u (u . dU)) / |z|: linear in dU, so ranks' shares add up. */
  for (int i = 0; i < N; i++) {
    const float *u = U + (size_t)i * D, *g = dU + (size_t)i * D;
    double dot = 0.0;
    for (int d = 0; d < D; d++) dot += (double)u[d] * g[d];
    for (int d = 0; d < D; d++)
      dz[(size_t)i * D + d] += (float)(scale * ((double)g[d] - u[d] * dot) / norms[i]);
  }
  return loss;
}

size_t lcfm_loss_infonce_rows_scratch_floats(int R, int N, int D) {
  return (size_t)R * N + 2 * (size_t)N * D + (size_t)N + 64;
}

double lcfm_loss_infonce(float *dz, const float *z, const int64_t *key, int N, int D, float tau,
                         float *scratch, float scale) {
  return lcfm_loss_infonce_rows(dz, z, key, N, D, tau, 0, N, scratch, scale);
}

double lcfm_loss_softmax_xent(float *dlogits, const float *logits, const int *target, int N, int K,
                              float scale) {
  int valid = 0;
  for (int n = 0; n < N; n++) valid += target[n] >= 0;
  if (valid == 0) return 0.0;
  double loss = 0.0;
  for (int n = 0; n < N; n++) {
    if (target[n] < 0) continue;
    LCFM_CHECK(target[n] < K, "nn: class %d out of range [0, %d)", target[n], K);
    const float *x = logits + (size_t)n * K;
    double mx = -INFINITY;
    for (int k = 0; k < K; k++) mx = x[k] > mx ? x[k] : mx;
    double se = 0.0;
    for (int k = 0; k < K; k++) se += exp((double)x[k] - mx);
    double lse = mx + log(se);
    loss += (lse - x[target[n]]) / valid;
    if (dlogits) {
      for (int k = 0; k < K; k++) {
        double p = exp((double)x[k] - lse);
        dlogits[(size_t)n * K + k] += (float)(scale * (p - (k == target[n])) / valid);
      }
    }
  }
  return loss;
}

size_t lcfm_loss_infonce_scratch_floats(int N, int D) {
  return lcfm_loss_infonce_rows_scratch_floats(N, N, D);
}

/* ---- Independence penalty: squared batch cross-correlation (see nn.h) ---- */

/* Layout of the moments: sum a [Da], sum a^2 [Da], sum b [Db], sum b^2 [Db], sum a b^T [Da, Db],
 * row count [1]. */
size_t lcfm_xcorr_moments_size(int Da, int Db) {
  return 2 * (size_t)Da + 2 * (size_t)Db + (size_t)Da * Db + 1;
}

void lcfm_xcorr_moments(double *moments, const float *a, const float *b, int rows, int Da, int Db) {
  double *sa = moments, *saa = sa + Da, *sb = saa + Da, *sbb = sb + Db, *sab = sbb + Db;
  memset(moments, 0, lcfm_xcorr_moments_size(Da, Db) * sizeof *moments);
  for (int i = 0; i < rows; i++) {
    const float *ai = a + (size_t)i * Da, *bi = b + (size_t)i * Db;
    for (int j = 0; j < Da; j++) sa[j] += ai[j], saa[j] += (double)ai[j] * ai[j];
    for (int k = 0; k < Db; k++) sb[k] += bi[k], sbb[k] += (double)bi[k] * bi[k];
    for (int j = 0; j < Da; j++)
      for (int k = 0; k < Db; k++) sab[(size_t)j * Db + k] += (double)ai[j] * bi[k];
  }
  sab[(size_t)Da * Db] = rows;
}

/* Means and standard deviations of n columns from their sums; a small floor keeps a collapsed
 * (constant) latent finite. */
static void xcorr_column_stats(double *mean, double *sd, const double *sum, const double *sum_sq,
                               int n, double N) {
  for (int j = 0; j < n; j++) {
    mean[j] = sum[j] / N;
    double var = sum_sq[j] / N - mean[j] * mean[j];
    sd[j] = sqrt((var > 0 ? var : 0) + 1e-6);
  }
}

/* dloss/dx for this rank's rows of one side: x [rows, Dx] against the other side y [rows, Dy];
 * G [Dx, Dy] (stride gs_row, gs_col lets one G serve both sides) holds dloss/drho, and
 * rho_dot[j] = sum_k G_jk rho_jk. */
static void xcorr_side_backward(float *dx, const float *x, const float *y, int rows, int Dx, int Dy,
                                const double *mx, const double *sx, const double *my,
                                const double *sy, const double *G, size_t gs_row, size_t gs_col,
                                const double *rho_dot, double N, float scale) {
  for (int i = 0; i < rows; i++) {
    const float *xi = x + (size_t)i * Dx, *yi = y + (size_t)i * Dy;
    for (int j = 0; j < Dx; j++) {
      double g = 0;
      for (int k = 0; k < Dy; k++)
        g += G[(size_t)j * gs_row + (size_t)k * gs_col] * (yi[k] - my[k]) / sy[k];
      g -= (xi[j] - mx[j]) / sx[j] * rho_dot[j];
      dx[(size_t)i * Dx + j] += scale * (float)(g / (N * sx[j]));
    }
  }
}

double lcfm_loss_xcorr(float *da, float *db, const float *a, const float *b, int rows,
                       const double *moments, int Da, int Db, float scale) {
  const double *sa = moments, *saa = sa + Da, *sb = saa + Da, *sbb = sb + Db, *sab = sbb + Db;
  double N = sab[(size_t)Da * Db];
  if (N < 2) return 0.0; /* no correlation in fewer than two rows */
  double *buf = lcfm_malloc(
      (2 * (size_t)Da + 2 * (size_t)Db + 2 * (size_t)Da * Db + (size_t)Da + Db) * sizeof *buf);
  double *ma = buf, *sda = ma + Da, *mb = sda + Da, *sdb = mb + Db, *rho = sdb + Db,
         *G = rho + (size_t)Da * Db;
  double *rho_dot_a = G + (size_t)Da * Db, *rho_dot_b = rho_dot_a + Da;
  xcorr_column_stats(ma, sda, sa, saa, Da, N);
  xcorr_column_stats(mb, sdb, sb, sbb, Db, N);
  double c = 1.0 / ((double)Da * Db), loss = 0;
  for (int j = 0; j < Da; j++)
    for (int k = 0; k < Db; k++) {
      size_t jk = (size_t)j * Db + k;
      rho[jk] = (sab[jk] / N - ma[j] * mb[k]) / (sda[j] * sdb[k]);
      loss += c * rho[jk] * rho[jk];
      G[jk] = 2 * c * rho[jk];
    }
  for (int j = 0; j < Da; j++) rho_dot_a[j] = 0;
  for (int k = 0; k < Db; k++) rho_dot_b[k] = 0;
  for (int j = 0; j < Da; j++)
    for (int k = 0; k < Db; k++) {
      size_t jk = (size_t)j * Db + k;
      rho_dot_a[j] += G[jk] * rho[jk], rho_dot_b[k] += G[jk] * rho[jk];
    }
  if (da)
    xcorr_side_backward(da, a, b, rows, Da, Db, ma, sda, mb, sdb, G, (size_t)Db, 1, rho_dot_a, N,
                        scale);
  if (db)
    xcorr_side_backward(db, b, a, rows, Db, Da, mb, sdb, ma, sda, G, 1, (size_t)Db, rho_dot_b, N,
                        scale);
  free(buf);
  return loss;
}
