/* test_class_probe.c: the pieces of Astromer 2's classification protocol.
 *   - macro F1 on hand-computed cases (perfect, one class missed, a class never predicted);
 *   - the softmax-weighted sum of layers: forward against a direct sum, gamma's gradient against
 *     central finite differences;
 *   - the classifier (paper layout with narrow widths) separates Gaussian blobs whose class lives
 *     in layer 1 only, layer 0 being noise: macro F1 > 0.9 on new points, and the learned
 *     softmax(gamma) moves weight onto layer 1. */
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/class_probe.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/nn.h"
#include "lcfm/rng.h"

static void test_macro_f1(void) {
  int truth[6] = {0, 0, 1, 1, 2, 2};
  int perfect[6] = {0, 0, 1, 1, 2, 2};
  EXPECT_NEAR(lcfm_macro_f1(perfect, truth, 6, 3), 1.0, 1e-12, "perfect");
  /* class 0: tp 2 fp 1 -> 4/5; class 1: tp 1 fn 1 -> 2/3; class 2: tp 2 -> 1 */
  int one_off[6] = {0, 0, 1, 0, 2, 2};
  EXPECT_NEAR(lcfm_macro_f1(one_off, truth, 6, 3), (0.8 + 2.0 / 3.0 + 1.0) / 3.0, 1e-12,
              "one mistake");
  /* everything predicted 0: class 0 -> 2*2/(4+4) = 0.5, classes 1, 2 -> 0 */
  int all_zero[6] = {0};
  EXPECT_NEAR(lcfm_macro_f1(all_zero, truth, 6, 3), 0.5 / 3.0, 1e-12, "constant prediction");
  /* a class absent from truth and predictions does not count */
  EXPECT_NEAR(lcfm_macro_f1(perfect, truth, 6, 5), 1.0, 1e-12, "absent classes");
}

static double weighted_loss(const float *x, const float *gamma, const float *R, int rows,
                            int layers, int dim) {
  float z[64], a[8];
  lcfm_weighted_layers_forward(z, a, x, gamma, rows, layers, dim);
  double l = 0;
  for (int i = 0; i < rows * dim; i++) l += (double)z[i] * R[i];
  return l;
}

static void test_weighted_layers(void) {
  enum { ROWS = 3, LAYERS = 4, DIM = 5 };
  float x[ROWS * LAYERS * DIM], gamma[LAYERS] = {0.3f, -0.7f, 1.1f, 0.05f}, R[ROWS * DIM],
                                z[ROWS * DIM], a[LAYERS];
  for (int i = 0; i < ROWS * LAYERS * DIM; i++) x[i] = (float)lcfm_rng_normal(3, 77, (uint64_t)i);
  for (int i = 0; i < ROWS * DIM; i++) R[i] = (float)lcfm_rng_normal(4, 77, (uint64_t)i);
  lcfm_weighted_layers_forward(z, a, x, gamma, ROWS, LAYERS, DIM);
  double norm = 0;
  for (int l = 0; l < LAYERS; l++) norm += exp(gamma[l]);
  for (int r = 0; r < ROWS; r++)
    for (int j = 0; j < DIM; j++) {
      double want = 0;
      for (int l = 0; l < LAYERS; l++) want += exp(gamma[l]) / norm * x[(r * LAYERS + l) * DIM + j];
      EXPECT_NEAR(z[r * DIM + j], want, 1e-5, "weighted sum");
    }
  float dgamma[LAYERS] = {0};
  lcfm_weighted_layers_backward(dgamma, R, x, a, ROWS, LAYERS, DIM);
  for (int l = 0; l < LAYERS; l++) {
    float g[LAYERS];
    memcpy(g, gamma, sizeof g);
    double h = 1e-2;
    g[l] = gamma[l] + (float)h;
    double up = weighted_loss(x, g, R, ROWS, LAYERS, DIM);
    g[l] = gamma[l] - (float)h;
    double down = weighted_loss(x, g, R, ROWS, LAYERS, DIM);
    double fd = (up - down) / (2 * h);
    EXPECT(fabs(fd - dgamma[l]) <= 2e-3 * fmax(1.0, fabs(fd)),
           "dgamma[%d] %g vs finite difference %g", l, dgamma[l], fd);
  }
}

/* Class k of 3 sits at a different mean in layer 1; layer 0 is noise of the same scale. */
static void blobs(float *x, int *y, int n, int dim, uint64_t seed) {
  for (int i = 0; i < n; i++) {
    y[i] = i % 3;
    for (int j = 0; j < dim; j++) {
      x[(i * 2 + 0) * dim + j] =
          (float)(2.0 * lcfm_rng_normal(seed, 78, (uint64_t)(i * 2 * dim + j)));
      double centre = j == y[i] ? 3.0 : 0.0;
      x[(i * 2 + 1) * dim + j] =
          (float)(centre + 0.7 * lcfm_rng_normal(seed, 79, (uint64_t)(i * dim + j)));
    }
  }
}

static void test_classifier(void) {
  enum { N = 600, M = 300, DIM = 6 };
  static float x_train[N * 2 * DIM], x_test[M * 2 * DIM];
  static int y_train[N], y_test[M], pred[M];
  blobs(x_train, y_train, N, DIM, 1);
  blobs(x_test, y_test, M, DIM, 2);
  lcfm_classifier_config c = {.layers = 2,
                              .dim = DIM,
                              .classes = 3,
                              .hidden = {64, 32, 16},
                              .steps = 1500,
                              .batch = 32,
                              .lr = 1e-3f};
  double gamma[2];
  lcfm_classifier_fit_predict(&c, x_train, y_train, N, x_test, M, pred, gamma, 5);
  double f1 = lcfm_macro_f1(pred, y_test, M, 3);
  printf("  classifier on blobs: macro F1 %.3f, softmax(gamma) = %.3f %.3f\n", f1, gamma[0],
         gamma[1]);
  EXPECT(f1 > 0.9, "macro F1 %g on separable blobs", f1);
  EXPECT(gamma[1] > 0.6 && fabs(gamma[0] + gamma[1] - 1.0) < 1e-6,
         "gamma did not favour the informative layer: %g %g", gamma[0], gamma[1]);
  /* Deterministic for a seed. */
  static int again[M];
  lcfm_classifier_fit_predict(&c, x_train, y_train, N, x_test, M, again, NULL, 5);
  EXPECT(!memcmp(pred, again, sizeof again), "the classifier is not deterministic");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  lcfm_log_init(MPI_COMM_WORLD);
  lcfm_nn_set_threads(1);
  test_macro_f1();
  test_weighted_layers();
  test_classifier();
  return lcfm_test_finish("test_class_probe");
}
