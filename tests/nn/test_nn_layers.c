/* test_nn_layers.c: every layer of the engine against central finite differences, for inputs and
 * weights, with masked positions (padding and hidden tokens) and a batch of one; dropout's
 * statistics and inference mode; the time encoding's closed form. Runs with 2 OpenMP threads. */
#include <math.h>
#include <mpi.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn.h"
#include "nn_fd.h"

#define EPS 1e-2f
#define TOL 2e-2

/* A generic context: up to 8 input/weight buffers with gradients, an output, and sizes. */
typedef struct {
  float *in[8], *din[8];
  float *out, *dout, *save[4];
  float *scratch;
  const float *mask;
  int s[6];
} ctx_t;

static float *buf(size_t n) { return lcfm_calloc(n + 16, sizeof(float)); }

static void ctx_free(ctx_t *c) {
  for (int i = 0; i < 8; i++) free(c->in[i]), free(c->din[i]);
  for (int i = 0; i < 4; i++) free(c->save[i]);
  free(c->out), free(c->dout), free(c->scratch);
}

static fd_case mk_case(const char *name, double (*obj)(void *), void (*grad)(void *), ctx_t *c) {
  fd_case fc;
  memset(&fc, 0, sizeof fc);
  fc.name = name, fc.objective = obj, fc.gradient = grad, fc.ctx = c;
  fc.eps = EPS, fc.tol = TOL, fc.floor = 1e-3;
  return fc;
}

static void add_t(fd_case *fc, const char *name, float *x, float *dx, size_t n) {
  fc->t[fc->nt++] = (fd_tensor){name, x, dx, n};
}

/* ---------------- linear ---------------- */
static double linear_obj(void *p) {
  ctx_t *c = p;
  lcfm_linear_forward(c->out, c->in[0], c->in[1], c->in[2], c->s[0], c->s[1], c->s[2]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[2]);
}
static void linear_grad(void *p) {
  ctx_t *c = p;
  linear_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[2]);
  lcfm_linear_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], c->s[0],
                       c->s[1], c->s[2]);
}
static void test_linear(int N, int C, int OC) {
  ctx_t c = {0};
  c.s[0] = N, c.s[1] = C, c.s[2] = OC;
  size_t sz[3] = {(size_t)N * C, (size_t)OC * C, (size_t)OC};
  for (int i = 0; i < 3; i++)
    c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]), fd_fill(c.in[i], sz[i], -1, 1, 10 + i);
  c.out = buf((size_t)N * OC), c.dout = buf((size_t)N * OC);
  char name[64];
  snprintf(name, sizeof name, "linear N=%d C=%d OC=%d", N, C, OC);
  fd_case fc = mk_case(name, linear_obj, linear_grad, &c);
  add_t(&fc, "inp", c.in[0], c.din[0], sz[0]);
  add_t(&fc, "w", c.in[1], c.din[1], sz[1]);
  add_t(&fc, "b", c.in[2], c.din[2], sz[2]);
  fd_check(&fc);
  /* Known answer: out = inp w^T + b on one row. */
  double ref = c.in[2][1];
  for (int k = 0; k < C; k++) ref += (double)c.in[0][k] * c.in[1][C + k];
  lcfm_linear_forward(c.out, c.in[0], c.in[1], c.in[2], N, C, OC);
  EXPECT_NEAR(c.out[1], ref, 1e-5, "linear known answer");
  ctx_free(&c);
}

/* The transposed-weight form (lcfm_linear_forward_t, the encoders' forward products) against the
 * plain one, at odd shapes: the same values to rounding. */
static void test_linear_transposed(int N, int C, int OC) {
  float *inp = buf((size_t)N * C), *w = buf((size_t)OC * C), *wt = buf((size_t)C * OC),
        *b = buf((size_t)OC), *plain = buf((size_t)N * OC), *fast = buf((size_t)N * OC);
  fd_fill(inp, (size_t)N * C, -1, 1, 31), fd_fill(w, (size_t)OC * C, -1, 1, 32);
  fd_fill(b, (size_t)OC, -1, 1, 33);
  for (int o = 0; o < OC; o++)
    for (int k = 0; k < C; k++) wt[(size_t)k * OC + o] = w[(size_t)o * C + k];
  lcfm_linear_forward(plain, inp, w, b, N, C, OC);
  lcfm_linear_forward_t(fast, inp, wt, b, N, C, OC);
  double worst = 0;
  for (size_t i = 0; i < (size_t)N * OC; i++)
    worst = fmax(worst, fabs((double)fast[i] - plain[i]) / (1 + fabs((double)plain[i])));
  EXPECT(worst < 1e-5 * sqrt((double)C), "linear_forward_t N=%d C=%d OC=%d differs by %g", N, C, OC,
         worst);
  free(inp), free(w), free(wt), free(b), free(plain), free(fast);
}

/* lcfm_nn_transpose (libxsmm's JIT transposition in the xsmm build) against the definition, at
 * odd shapes and with row strides wider than the rows: exact. */
static void test_transpose(int rows, int cols) {
  int ldi = cols + 3, ldo = rows + 5;
  float *in = buf((size_t)rows * ldi), *out = buf((size_t)cols * ldo);
  fd_fill(in, (size_t)rows * ldi, -1, 1, 34);
  for (size_t i = 0; i < (size_t)cols * ldo; i++) out[i] = 7.0f; /* padding must stay */
  lcfm_nn_transpose(out, ldo, in, ldi, rows, cols);
  int wrong = 0, touched = 0;
  for (int c = 0; c < cols; c++)
    for (int r = 0; r < ldo; r++) {
      float got = out[(size_t)c * ldo + r];
      if (r < rows) wrong += got != in[(size_t)r * ldi + c];
      else touched += got != 7.0f;
    }
  EXPECT(wrong == 0 && touched == 0, "transpose %d x %d: %d wrong, %d padding values changed", rows,
         cols, wrong, touched);
  free(in), free(out);
}

/* Attention forward against a double-precision reference: softmax(q k^T / sqrt(D)) v per head,
 * masked keys excluded. Covers the scores through the transposed copy of k (small heads) and
 * through the transposed product (a head of T x D above the copy's 16,384 floats). */
static void test_attention_reference(int B, int T, int C, int H) {
  int D = C / H, C3 = 3 * C;
  size_t n = (size_t)B * T * C3;
  float *qkv = buf(n), *out = buf((size_t)B * T * C), *att = buf((size_t)B * H * T * T);
  float *mask = buf((size_t)B * T);
  fd_fill(qkv, n, -1.5, 1.5, 35);
  for (int i = 0; i < B * T; i++) mask[i] = i % 7 == 3 ? 0.0f : 1.0f;
  lcfm_attention_forward(out, att, qkv, mask, B, T, C, H);
  double worst = 0, *score = malloc(sizeof(double) * (size_t)T);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < T; i++) {
        const float *q = qkv + ((size_t)b * T + i) * C3 + (size_t)h * D;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < T; j++) {
          const float *k = qkv + ((size_t)b * T + j) * C3 + C + (size_t)h * D;
          double s = 0;
          for (int e = 0; e < D; e++) s += (double)q[e] * k[e];
          score[j] = mask[b * T + j] != 0.0f ? s / sqrt((double)D) : -INFINITY;
          mx = fmax(mx, score[j]);
        }
        for (int j = 0; j < T; j++) sum += score[j] = exp(score[j] - mx);
        for (int e = 0; e < D; e++) {
          double o = 0;
          for (int j = 0; j < T; j++)
            o += score[j] / sum * qkv[((size_t)b * T + j) * C3 + 2 * C + (size_t)h * D + e];
          worst = fmax(worst, fabs(o - out[((size_t)b * T + i) * C + (size_t)h * D + e]));
        }
      }
  EXPECT(worst < 1e-4, "attention B=%d T=%d C=%d H=%d differs from the reference by %g", B, T, C, H,
         worst);
  free(qkv), free(out), free(att), free(mask), free(score);
}

/* ---------------- layer norm ---------------- */
static double ln_obj(void *p) {
  ctx_t *c = p;
  lcfm_layernorm_forward(c->out, c->save[0], c->save[1], c->in[0], c->in[1], c->in[2], c->s[0],
                         c->s[1], LCFM_NN_LN_EPS);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1]);
}
static void ln_grad(void *p) {
  ctx_t *c = p;
  ln_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1]);
  lcfm_layernorm_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], c->save[0],
                          c->save[1], c->s[0], c->s[1]);
}
static void test_layernorm(int N, int C) {
  ctx_t c = {0};
  c.s[0] = N, c.s[1] = C;
  size_t sz[3] = {(size_t)N * C, (size_t)C, (size_t)C};
  for (int i = 0; i < 3; i++) c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]);
  fd_fill(c.in[0], sz[0], -2, 2, 20);
  fd_fill(c.in[1], sz[1], 0.5, 1.5, 21);
  fd_fill(c.in[2], sz[2], -0.5, 0.5, 22);
  c.out = buf(sz[0]), c.dout = buf(sz[0]), c.save[0] = buf((size_t)N), c.save[1] = buf((size_t)N);
  char name[64];
  snprintf(name, sizeof name, "layernorm N=%d C=%d", N, C);
  fd_case fc = mk_case(name, ln_obj, ln_grad, &c);
  fc.eps = 3e-3f;
  add_t(&fc, "inp", c.in[0], c.din[0], sz[0]);
  add_t(&fc, "w", c.in[1], c.din[1], sz[1]);
  add_t(&fc, "b", c.in[2], c.din[2], sz[2]);
  fd_check(&fc);
  /* Normalised rows: with w = 1, b = 0 the output has mean 0 and variance ~1. */
  for (int i = 0; i < C; i++) c.in[1][i] = 1.0f, c.in[2][i] = 0.0f;
  ln_obj(&c);
  double m = 0, v = 0;
  for (int i = 0; i < C; i++) m += c.out[i];
  m /= C;
  for (int i = 0; i < C; i++) v += (c.out[i] - m) * (c.out[i] - m);
  v /= C;
  EXPECT_NEAR(m, 0.0, 1e-6, "layernorm mean");
  EXPECT_NEAR(v, 1.0, 1e-3, "layernorm variance");
  ctx_free(&c);
}

/* ---------------- element-wise activations ---------------- */
static int act_kind;
static double act_obj(void *p) {
  ctx_t *c = p;
  size_t n = (size_t)c->s[0];
  switch (act_kind) {
  case 0: lcfm_relu_forward(c->out, c->in[0], n); break;
  case 1: lcfm_gelu_forward(c->out, c->in[0], n); break;
  case 2: lcfm_swish_forward(c->out, c->in[0], n); break;
  case 3: lcfm_tanh_forward(c->out, c->in[0], n); break;
  case 4: lcfm_swish_forward_sig(c->out, c->save[0], c->in[0], n); break;
  }
  return fd_dot_r(c->out, n);
}
static void act_grad(void *p) {
  ctx_t *c = p;
  size_t n = (size_t)c->s[0];
  act_obj(p);
  fd_fill_r(c->dout, n);
  switch (act_kind) {
  case 0: lcfm_relu_backward(c->din[0], c->dout, c->in[0], n); break;
  case 1: lcfm_gelu_backward(c->din[0], c->dout, c->in[0], n); break;
  case 2: lcfm_swish_backward(c->din[0], c->dout, c->in[0], n); break;
  case 3: lcfm_tanh_backward(c->din[0], c->dout, c->out, n); break;
  case 4: lcfm_swish_backward_sig(c->din[0], c->dout, c->out, c->save[0], n); break;
  }
}
static void test_activations(void) {
  const char *names[5] = {"relu", "gelu", "swish", "tanh", "swish (sigmoid saved)"};
  int n = 41;
  for (int k = 0; k < 5; k++) {
    ctx_t c = {0};
    c.s[0] = n;
    c.in[0] = buf(n), c.din[0] = buf(n), c.out = buf(n), c.dout = buf(n), c.save[0] = buf(n);
    fd_fill(c.in[0], n, -3, 3, 30 + k);
    /* keep ReLU away from its kink */
    for (int i = 0; i < n; i++)
      if (fabsf(c.in[0][i]) < 0.05f) c.in[0][i] = 0.3f;
    act_kind = k;
    fd_case fc = mk_case(names[k], act_obj, act_grad, &c);
    fc.eps = 1e-3f;
    add_t(&fc, "inp", c.in[0], c.din[0], n);
    fd_check(&fc);
    /* closed forms at a few points */
    float xs[3] = {-1.5f, 0.25f, 2.0f}, ys[3];
    for (int i = 0; i < 3; i++) {
      double x = xs[i], ref = 0;
      switch (k) {
      case 0:
        ref = x > 0 ? x : 0;
        lcfm_relu_forward(&ys[i], &xs[i], 1);
        break;
      case 1:
        ref = 0.5 * x * (1 + erf(x / sqrt(2.0)));
        lcfm_gelu_forward(&ys[i], &xs[i], 1);
        break;
      case 2:
        ref = x / (1 + exp(-x));
        lcfm_swish_forward(&ys[i], &xs[i], 1);
        break;
      case 3:
        ref = tanh(x);
        lcfm_tanh_forward(&ys[i], &xs[i], 1);
        break;
      case 4: {
        float sig, in = xs[i]; /* in place: the input becomes its sigmoid */
        ref = x / (1 + exp(-x));
        lcfm_swish_forward_sig(&ys[i], &in, &in, 1);
        sig = in;
        EXPECT_NEAR(sig, 1 / (1 + exp(-x)), 3e-7, "swish saved sigmoid");
        break;
      }
      }
      EXPECT_NEAR(ys[i], ref, 3e-7 * (1 + fabs(ref)), names[k]);
    }
    ctx_free(&c);
  }
}

/* ---------------- GLU ---------------- */
static double glu_obj(void *p) {
  ctx_t *c = p;
  lcfm_glu_forward(c->out, c->in[0], c->s[0], c->s[1]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1]);
}
static void glu_grad(void *p) {
  ctx_t *c = p;
  glu_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1]);
  lcfm_glu_backward(c->din[0], c->dout, c->in[0], c->s[0], c->s[1]);
}
static void test_glu(void) {
  ctx_t c = {0};
  int N = 3, C = 5;
  c.s[0] = N, c.s[1] = C;
  c.in[0] = buf((size_t)N * 2 * C), c.din[0] = buf((size_t)N * 2 * C);
  c.out = buf((size_t)N * C), c.dout = buf((size_t)N * C);
  fd_fill(c.in[0], (size_t)N * 2 * C, -2, 2, 40);
  fd_case fc = mk_case("glu", glu_obj, glu_grad, &c);
  fc.eps = 1e-3f;
  add_t(&fc, "inp", c.in[0], c.din[0], (size_t)N * 2 * C);
  fd_check(&fc);
  double ref = c.in[0][2 * C + 1] * (1.0 / (1.0 + exp(-c.in[0][3 * C + 1])));
  EXPECT_NEAR(c.out[C + 1], ref, 1e-6, "glu known answer");
  ctx_free(&c);
}

/* ---------------- dropout ---------------- */
static double drop_obj(void *p) {
  ctx_t *c = p;
  lcfm_dropout_forward(c->out, c->save[0], c->in[0], (size_t)c->s[0], 0.3f, 1, 99, 5);
  return fd_dot_r(c->out, (size_t)c->s[0]);
}
static void drop_grad(void *p) {
  ctx_t *c = p;
  drop_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0]);
  lcfm_dropout_backward(c->din[0], c->dout, c->save[0], (size_t)c->s[0], 0.3f, 1);
}
static void test_dropout(void) {
  ctx_t c = {0};
  int n = 50;
  c.s[0] = n;
  c.in[0] = buf(n), c.din[0] = buf(n), c.out = buf(n), c.dout = buf(n), c.save[0] = buf(n);
  fd_fill(c.in[0], n, -1, 1, 50);
  fd_case fc = mk_case("dropout p=0.3", drop_obj, drop_grad, &c);
  add_t(&fc, "inp", c.in[0], c.din[0], n);
  fd_check(&fc);
  /* statistics: keep rate 0.7, kept values scaled by 1/0.7, reproducible, off at inference */
  size_t big = 200000;
  float *x = buf(big), *y = buf(big), *m = buf(big), *m2 = buf(big);
  for (size_t i = 0; i < big; i++) x[i] = 1.0f;
  lcfm_dropout_forward(y, m, x, big, 0.3f, 1, 7, 11);
  double kept = 0, sum = 0;
  int scaled_ok = 1;
  for (size_t i = 0; i < big; i++) {
    kept += m[i] != 0.0f;
    sum += y[i];
    if (m[i] != 0.0f && fabsf(m[i] - 1.0f / 0.7f) > 1e-6f) scaled_ok = 0;
  }
  EXPECT_NEAR(kept / big, 0.7, 0.005, "dropout keep rate");
  EXPECT_NEAR(sum / big, 1.0, 0.01, "dropout preserves the mean");
  EXPECT(scaled_ok, "dropout keeps values scaled by 1/(1-p)");
  lcfm_dropout_forward(y, m2, x, big, 0.3f, 1, 7, 11);
  EXPECT(memcmp(m, m2, big * sizeof(float)) == 0,
         "dropout mask is not a pure function of (seed, counter)");
  lcfm_dropout_forward(y, m2, x, big, 0.3f, 1, 7, 12);
  EXPECT(memcmp(m, m2, big * sizeof(float)) != 0, "dropout mask does not change with the counter");
  lcfm_dropout_forward(y, m2, x, big, 0.3f, 0, 7, 11);
  int ident = 1;
  for (size_t i = 0; i < big; i++) ident &= y[i] == 1.0f;
  EXPECT(ident, "dropout is not the identity at inference");
  free(x), free(y), free(m), free(m2);
  ctx_free(&c);
}

/* ---------------- attention ---------------- */
static double att_obj(void *p) {
  ctx_t *c = p;
  lcfm_attention_forward(c->out, c->save[0], c->in[0], c->mask, c->s[0], c->s[1], c->s[2], c->s[3]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1] * c->s[2]);
}
static void att_grad(void *p) {
  ctx_t *c = p;
  att_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1] * c->s[2]);
  lcfm_attention_backward(c->din[0], c->dout, c->in[0], c->save[0], c->scratch, c->s[0], c->s[1],
                          c->s[2], c->s[3]);
}
static void test_attention(int B, int T, int C, int H, const float *mask) {
  ctx_t c = {0};
  c.s[0] = B, c.s[1] = T, c.s[2] = C, c.s[3] = H;
  size_t n = (size_t)B * T * 3 * C;
  c.in[0] = buf(n), c.din[0] = buf(n);
  fd_fill(c.in[0], n, -1.5, 1.5, 60 + B);
  c.out = buf((size_t)B * T * C), c.dout = buf((size_t)B * T * C);
  c.save[0] = buf((size_t)B * H * T * T);
  c.scratch = buf(lcfm_attention_scratch_floats(T));
  c.mask = mask;
  char name[80];
  snprintf(name, sizeof name, "attention B=%d T=%d C=%d H=%d%s", B, T, C, H, mask ? " masked" : "");
  fd_case fc = mk_case(name, att_obj, att_grad, &c);
  fc.eps = 3e-3f;
  add_t(&fc, "qkv", c.in[0], c.din[0], n);
  fd_check(&fc);
  if (mask) {
    /* masked keys: probability exactly 0, and no gradient reaches their k and v */
    int bad = 0, nograd = 1;
    for (int b = 0; b < B; b++)
      for (int j = 0; j < T; j++) {
        if (mask[b * T + j] != 0.0f) continue;
        for (int h = 0; h < H; h++)
          for (int i = 0; i < T; i++)
            bad += c.save[0][(((size_t)b * H + h) * T + i) * T + j] != 0.0f;
        for (int k = C; k < 3 * C; k++)
          nograd &= c.din[0][((size_t)b * T + j) * 3 * C + k] == 0.25f;
      }
    EXPECT(bad == 0, "attention: %d probabilities on masked keys", bad);
    EXPECT(nograd, "attention: gradient reached a masked key or value");
  }
  /* rows of valid queries sum to one */
  double worst = 0;
  for (size_t r = 0; r < (size_t)B * H * T; r++) {
    double s = 0;
    for (int j = 0; j < T; j++) s += c.save[0][r * T + j];
    worst = fmax(worst, fabs(s - 1.0));
  }
  EXPECT(worst < 1e-5, "attention rows do not sum to 1 (%g)", worst);
  ctx_free(&c);
}

/* ---------------- depthwise convolution ---------------- */
static double dw_obj(void *p) {
  ctx_t *c = p;
  lcfm_dwconv_forward(c->out, c->in[0], c->in[1], c->in[2], c->s[0], c->s[1], c->s[2], c->s[3]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1] * c->s[2]);
}
static void dw_grad(void *p) {
  ctx_t *c = p;
  dw_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1] * c->s[2]);
  lcfm_dwconv_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], c->s[0],
                       c->s[1], c->s[2], c->s[3]);
}
static void test_dwconv(int B, int T, int C, int K) {
  ctx_t c = {0};
  c.s[0] = B, c.s[1] = T, c.s[2] = C, c.s[3] = K;
  size_t sz[3] = {(size_t)B * T * C, (size_t)K * C, (size_t)C};
  for (int i = 0; i < 3; i++)
    c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]), fd_fill(c.in[i], sz[i], -1, 1, 70 + i);
  c.out = buf(sz[0]), c.dout = buf(sz[0]);
  char name[64];
  snprintf(name, sizeof name, "dwconv B=%d T=%d C=%d K=%d", B, T, C, K);
  fd_case fc = mk_case(name, dw_obj, dw_grad, &c);
  add_t(&fc, "inp", c.in[0], c.din[0], sz[0]);
  add_t(&fc, "w", c.in[1], c.din[1], sz[1]);
  add_t(&fc, "b", c.in[2], c.din[2], sz[2]);
  fd_check(&fc);
  /* known answer at t = 0 (left edge): out = b + sum_{k >= pad} w[k] x[k - pad] */
  int pad = (K - 1) / 2;
  double ref = c.in[2][1];
  for (int k = pad; k < K && k - pad < T; k++)
    ref += (double)c.in[1][k * C + 1] * c.in[0][(k - pad) * C + 1];
  dw_obj(&c);
  EXPECT_NEAR(c.out[1], ref, 1e-5, "dwconv edge known answer");
  ctx_free(&c);
}

/* ---------------- LSTM ---------------- */
static double lstm_obj(void *p) {
  ctx_t *c = p;
  lcfm_lstm_acts a = {c->out, c->save[0], c->save[1]};
  lcfm_lstm_tensors w = {c->in[1], c->in[2], c->in[3], c->in[4], NULL, NULL};
  lcfm_lstm_forward(&a, c->in[0], &w, (lcfm_lstm_dims){c->s[0], c->s[1], c->s[2], c->s[3]});
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1] * c->s[3]);
}
static void lstm_grad(void *p) {
  ctx_t *c = p;
  lstm_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1] * c->s[3]);
  lcfm_lstm_acts a = {c->out, c->save[0], c->save[1]};
  lcfm_lstm_tensors w = {c->in[1], c->in[2], c->in[3], c->in[4], NULL, NULL},
                    dw = {c->din[1], c->din[2], c->din[3], c->din[4], NULL, NULL};
  lcfm_lstm_backward(c->din[0], &dw, c->dout, c->in[0], &a, &w, c->scratch,
                     (lcfm_lstm_dims){c->s[0], c->s[1], c->s[2], c->s[3]});
}
/* The forward from transposed weights (w_ih_t, w_hh_t: the other products' kernels) gives the
 * hidden states of the plain forward (c->out, just computed) to rounding. */
static void check_lstm_transposed(ctx_t *c, int In, int H) {
  int B = c->s[0], T = c->s[1], G = 4 * H;
  size_t n = (size_t)B * T * H;
  float *plain = buf(n), *w_ih_t = buf((size_t)In * G), *w_hh_t = buf((size_t)H * G);
  memcpy(plain, c->out, n * sizeof *plain);
  for (int g = 0; g < G; g++) {
    for (int k = 0; k < In; k++) w_ih_t[(size_t)k * G + g] = c->in[1][(size_t)g * In + k];
    for (int k = 0; k < H; k++) w_hh_t[(size_t)k * G + g] = c->in[2][(size_t)g * H + k];
  }
  lcfm_lstm_acts a = {c->out, c->save[0], c->save[1]};
  lcfm_lstm_tensors w = {c->in[1], c->in[2], c->in[3], c->in[4], w_ih_t, w_hh_t};
  lcfm_lstm_forward(&a, c->in[0], &w, (lcfm_lstm_dims){B, T, In, H});
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)c->out[i] - plain[i]));
  EXPECT(worst < 2e-6, "lstm B=%d T=%d: transposed-weight forward differs by %g", B, T, worst);
  free(plain), free(w_ih_t), free(w_hh_t);
}

static void test_lstm(int B, int T, int In, int H) {
  ctx_t c = {0};
  c.s[0] = B, c.s[1] = T, c.s[2] = In, c.s[3] = H;
  size_t sz[5] = {(size_t)B * T * In, (size_t)4 * H * In, (size_t)4 * H * H, (size_t)4 * H,
                  (size_t)4 * H};
  for (int i = 0; i < 5; i++)
    c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]), fd_fill(c.in[i], sz[i], -0.8, 0.8, 80 + i);
  c.out = buf((size_t)B * T * H), c.dout = buf((size_t)B * T * H);
  c.save[0] = buf((size_t)B * T * 4 * H), c.save[1] = buf((size_t)B * T * H);
  c.scratch = buf(lcfm_lstm_scratch_floats(B, T, H));
  char name[64];
  snprintf(name, sizeof name, "lstm B=%d T=%d I=%d H=%d", B, T, In, H);
  fd_case fc = mk_case(name, lstm_obj, lstm_grad, &c);
  fc.eps = 3e-3f;
  const char *tn[5] = {"inp", "w_ih", "w_hh", "b_ih", "b_hh"};
  for (int i = 0; i < 5; i++) add_t(&fc, tn[i], c.in[i], c.din[i], sz[i]);
  fd_check(&fc);
  /* Known answer for the first step of sample 0: h = o tanh(i g) with pre-activations W x + b. */
  lstm_obj(&c);
  double a[4];
  for (int g = 0; g < 4; g++) {
    int j = g * H; /* unit 0 of gate g */
    a[g] = (double)c.in[3][j] + c.in[4][j];
    for (int k = 0; k < In; k++) a[g] += (double)c.in[1][(size_t)j * In + k] * c.in[0][k];
  }
  double ig = 1 / (1 + exp(-a[0])), gg = tanh(a[2]), og = 1 / (1 + exp(-a[3]));
  EXPECT_NEAR(c.out[0], og * tanh(ig * gg), 2e-6, "lstm first step (gate order i, f, g, o)");
  check_lstm_transposed(&c, In, H);
  ctx_free(&c);
}

/* ---------------- masked mean pooling ---------------- */
static double pool_obj(void *p) {
  ctx_t *c = p;
  lcfm_meanpool_forward(c->out, c->in[0], c->mask, c->s[0], c->s[1], c->s[2]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[2]);
}
static void pool_grad(void *p) {
  ctx_t *c = p;
  pool_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[2]);
  lcfm_meanpool_backward(c->din[0], c->dout, c->mask, c->s[0], c->s[1], c->s[2]);
}
static void test_pool(void) {
  int B = 3, T = 4, C = 3;
  static const float mask[12] = {1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0};
  ctx_t c = {0};
  c.s[0] = B, c.s[1] = T, c.s[2] = C, c.mask = mask;
  size_t n = (size_t)B * T * C;
  c.in[0] = buf(n), c.din[0] = buf(n), c.out = buf((size_t)B * C), c.dout = buf((size_t)B * C);
  fd_fill(c.in[0], n, -1, 1, 90);
  fd_case fc = mk_case("meanpool masked", pool_obj, pool_grad, &c);
  add_t(&fc, "inp", c.in[0], c.din[0], n);
  fd_check(&fc);
  pool_obj(&c);
  EXPECT_NEAR(c.out[3 + 2], (c.in[0][12 + 2] + c.in[0][18 + 2]) / 2.0, 1e-6,
              "meanpool known answer");
  EXPECT_NEAR(c.out[6 + 1], c.in[0][24 + 1], 1e-6, "meanpool of one valid step");
  int zero = 1;
  for (int t = 1; t < T; t++)
    for (int k = 0; k < C; k++) zero &= c.din[0][(8 + t) * C + k] == 0.25f;
  EXPECT(zero, "meanpool: gradient reached a padded step");
  ctx_free(&c);
}

/* ---------------- time encoding ---------------- */
static double te_obj(void *p) {
  ctx_t *c = p;
  lcfm_timeenc_forward(c->out, c->in[0], c->s[0], c->s[1]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1]);
}
static void te_grad(void *p) {
  ctx_t *c = p;
  te_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1]);
  lcfm_timeenc_backward(c->din[0], c->dout, c->in[0], c->s[0], c->s[1]);
}
static void test_timeenc(void) {
  int N = 5, d = 8;
  ctx_t c = {0};
  c.s[0] = N, c.s[1] = d;
  c.in[0] = buf(N), c.din[0] = buf(N), c.out = buf((size_t)N * d), c.dout = buf((size_t)N * d);
  fd_fill(c.in[0], N, 0, 3, 100);
  fd_case fc = mk_case("time encoding", te_obj, te_grad, &c);
  fc.eps = 1e-3f;
  add_t(&fc, "times", c.in[0], c.din[0], N);
  fd_check(&fc);
  c.in[0][0] = 37.5f;
  te_obj(&c);
  for (int j = 0; j < d / 2; j++) {
    double w = pow(1000.0, -2.0 * j / d);
    EXPECT_NEAR(c.out[j], sin(37.5 * w), 1e-6, "time encoding sin half");
    EXPECT_NEAR(c.out[d / 2 + j], cos(37.5 * w), 1e-6, "time encoding cos half");
  }
  ctx_free(&c);
}

/* ---------------- scalar embedding ---------------- */
static double se_obj(void *p) {
  ctx_t *c = p;
  lcfm_scalar_embed_forward(c->out, c->in[0], c->in[1], c->in[2], c->s[0], c->s[1], 0);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1]);
}
static void se_grad(void *p) {
  ctx_t *c = p;
  se_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1]);
  lcfm_scalar_embed_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], c->s[0],
                             c->s[1]);
}
static void test_scalar_embed(void) {
  int N = 4, d = 5;
  ctx_t c = {0};
  c.s[0] = N, c.s[1] = d;
  size_t sz[3] = {(size_t)N, (size_t)d, (size_t)d};
  for (int i = 0; i < 3; i++)
    c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]), fd_fill(c.in[i], sz[i], -1, 1, 110 + i);
  c.out = buf((size_t)N * d), c.dout = buf((size_t)N * d);
  fd_case fc = mk_case("scalar embedding", se_obj, se_grad, &c);
  add_t(&fc, "x", c.in[0], c.din[0], sz[0]);
  add_t(&fc, "w", c.in[1], c.din[1], sz[1]);
  add_t(&fc, "b", c.in[2], c.din[2], sz[2]);
  fd_check(&fc);
  ctx_free(&c);
}

/* ---------------- mask token ---------------- */
static double mt_obj(void *p) {
  ctx_t *c = p;
  lcfm_masktoken_forward(c->out, c->in[0], c->in[1], c->mask, c->s[0], c->s[1]);
  return fd_dot_r(c->out, (size_t)c->s[0] * c->s[1]);
}
static void mt_grad(void *p) {
  ctx_t *c = p;
  mt_obj(p);
  fd_fill_r(c->dout, (size_t)c->s[0] * c->s[1]);
  lcfm_masktoken_backward(c->din[0], c->din[1], c->dout, c->mask, c->s[0], c->s[1]);
}
static void test_masktoken(void) {
  int N = 5, d = 4;
  static const float replace[5] = {0, 1, 0, 1, 0};
  ctx_t c = {0};
  c.s[0] = N, c.s[1] = d, c.mask = replace;
  size_t sz[2] = {(size_t)N * d, (size_t)d};
  for (int i = 0; i < 2; i++)
    c.in[i] = buf(sz[i]), c.din[i] = buf(sz[i]), fd_fill(c.in[i], sz[i], -1, 1, 120 + i);
  c.out = buf(sz[0]), c.dout = buf(sz[0]);
  fd_case fc = mk_case("mask token", mt_obj, mt_grad, &c);
  add_t(&fc, "inp", c.in[0], c.din[0], sz[0]);
  add_t(&fc, "token", c.in[1], c.din[1], sz[1]);
  fd_check(&fc);
  EXPECT(c.out[1 * d + 2] == c.in[1][2] && c.out[2 * d + 2] == c.in[0][2 * d + 2],
         "mask token placement");
  ctx_free(&c);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(2);
  test_linear(5, 4, 3);
  test_linear(1, 6, 2); /* batch of one */
  static const int odd[][3] = {
      {1, 7, 64}, {7, 64, 100}, {100, 257, 7}, {257, 1, 257}, {64, 100, 1}};
  for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
    test_linear_transposed(odd[i][0], odd[i][1], odd[i][2]);
  static const int shapes[][2] = {{1, 7}, {7, 64}, {64, 100}, {100, 257}, {257, 1}, {16, 100}};
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
    test_transpose(shapes[i][0], shapes[i][1]);
  test_attention_reference(2, 100, 64, 4);  /* the paper model's heads: T 100, D 16 */
  test_attention_reference(1, 130, 128, 1); /* T x D = 16,640: the transposed product */
  test_layernorm(4, 6);
  test_layernorm(1, 5);
  test_activations();
  test_glu();
  test_dropout();
  static const float mask[2 * 6] = {1, 1, 1, 1, 1, 1, /* sample 0: all valid */
                                    1, 0, 1, 1, 0, 0 /* sample 1: a hidden token, then padding */};
  test_attention(2, 6, 8, 2, mask);
  test_attention(2, 6, 8, 2, NULL);
  test_attention(1, 5, 6, 3, NULL); /* batch of one, three heads */
  test_dwconv(2, 7, 3, 3);
  test_dwconv(1, 3, 2, 5);   /* kernel wider than the sequence, batch of one */
  test_dwconv(2, 6, 40, 5);  /* a register block of any width (40 channels) */
  test_dwconv(1, 5, 64, 3);  /* one full 64-channel block */
  test_dwconv(1, 5, 32, 3);  /* the 32-channel form */
  test_dwconv(1, 4, 100, 3); /* a full block and a partial one */
  test_lstm(2, 4, 3, 3);
  test_lstm(1, 3, 2, 2);
  test_lstm(37, 3, 3, 3); /* several recurrence groups (16 sequences each), in parallel */
  test_pool();
  test_timeenc();
  test_scalar_embed();
  test_masktoken();
  return lcfm_test_finish("test_nn_layers");
}
