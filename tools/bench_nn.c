/* bench_nn.c: training-step benchmark of the neural-network engine (issue 3).
 *
 *   bench_nn [--threads N] [--steps S] [--model causal|astromer|both] [--peak GFLOPS] [--triplets K]
 *
 * Measures, with N OpenMP threads and N OpenBLAS threads:
 *   - the machine's single-precision GEMM rate (cblas_sgemm, 2048^3, best of several runs): "peak";
 *   - causal: the paper's dual encoder (two Conformer-LSTM encoders: 4 blocks, d 64, 4 heads,
 *     ff 128, kernel 31, T 100, latent 20) on 64 triplets = 192 light curves: forward of both
 *     encoders, generalised InfoNCE on each latent (same star / same instrument positives),
 *     backward, Adam;
 *   - astromer: the Astromer 2 encoder (6 blocks, d 256, 4 heads of 64, ff 128 tanh, no residual,
 *     window 200) on 32 windows: forward, weighted RMSE on probed points, backward, Adam.
 * --peak skips the GEMM measurement and uses the rate given (for profiling the steps alone);
 * --triplets changes the causal batch (64 triplets by default, the paper's); --keep-acts keeps every
 * block activation of the causal encoders instead of recomputing the blocks in backward (the
 * default, lcfm_causal_encoder_config.keep_block_acts: the memory against the time); --acts-table
 * prints, after the causal step, what each tensor a block could keep costs per light curve and the
 * products it spares (what chose the engine's set under 2 MiB per light curve).
 * Prints ms/step (median over steps after one warm-up) and the process CPU time per step (median
 * and least; on a loaded machine it moves less than wall time), GFLOP/s from the analytic FLOP count
 * (lcfm_*_flops: forward + backward matrix products), the fraction of the measured GEMM rate, and
 * saved-activation memory per light curve. Logs the machine first (CPU, vector ISAs, GEMM kernel,
 * threads: machine.h). Lines starting with "RESULT" are parsed by tools/bench_nn.sh.
 */
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/nn_models.h"

void openblas_set_num_threads(int num_threads);

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* CPU seconds used by every thread of this process (spin-waiting included). */
static double cpu_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double measure_sgemm(void) {
  int n = 2048;
  float *a = lcfm_malloc(sizeof(float) * (size_t)n * n),
        *b = lcfm_malloc(sizeof(float) * (size_t)n * n),
        *c = lcfm_malloc(sizeof(float) * (size_t)n * n);
  for (size_t i = 0; i < (size_t)n * n; i++)
    a[i] = (float)(i % 97) * 1e-3f, b[i] = (float)(i % 89) * 1e-3f;
  /* The peak is the better of OpenBLAS's own threading and the engine's panel split, both with
   * the same thread count; the engine then goes back to single-threaded OpenBLAS. */
  double best = 0;
  for (int mode = 0; mode < 2; mode++) {
    if (mode == 0) openblas_set_num_threads(lcfm_nn_threads());
    for (int r = 0; r < 6; r++) {
      double t0 = lcfm_wtime();
      if (mode == 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
      else lcfm_nn_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      double dt = lcfm_wtime() - t0;
      if (r > 0) best = fmax(best, 2.0 * n * (double)n * n / dt / 1e9);
    }
    if (mode == 0) lcfm_nn_set_threads(lcfm_nn_threads());
  }
  free(a), free(b), free(c);
  return best;
}

static double minimum(const double *x, int n) {
  double m = x[0];
  for (int i = 1; i < n; i++) m = x[i] < m ? x[i] : m;
  return m;
}

static void report(const char *model, double ms, double cpu_ms, double cpu_min_ms, double flops,
                   double peak, size_t act_bytes, size_t scr_bytes, int sequences, size_t nparams) {
  double gf = flops / (ms * 1e-3) / 1e9;
  printf(
      "%-9s %9.1f ms/step (%.1f CPU ms, least %.1f)  %7.1f GFLOP/s  %5.1f%% of sgemm  %.2f GFLOP/step  activations %.2f MiB/light curve"
      " (+ %.2f MiB/light curve scratch)  %zu parameters\n",
      model, ms, cpu_ms, cpu_min_ms, gf, 100 * gf / peak, flops / 1e9,
      act_bytes / (double)sequences / 1048576.0, scr_bytes / (double)sequences / 1048576.0,
      nparams);
  printf(
      "RESULT %s ms=%.3f cpu_ms=%.3f cpu_min_ms=%.3f gflops=%.3f peak_frac=%.4f act_mib_per_lc=%.4f "
      "scratch_mib_per_lc=%.4f\n",
      model, ms, cpu_ms, cpu_min_ms, gf, gf / peak, act_bytes / (double)sequences / 1048576.0,
      scr_bytes / (double)sequences / 1048576.0);
  fflush(stdout);
}

/* One candidate for what a Conformer block keeps for backward (the causal encoder, blocks recomputed). */
typedef struct {
  const char *name;
  double floats_per_row; /* per time step of one sequence */
  double macs_per_row;   /* products (multiply-adds) recomputed per row when it is not kept */
  const char *otherwise; /* what recomputing it takes */
  int kept;              /* kept by this engine (encoders.c, kept_block_layout) */
} acts_candidate;

/* --acts-table: the bytes each candidate costs per light curve (both encoders, every block) and the
 * products it spares, for choosing what to keep under 2 MiB per light curve; then what the
 * engine keeps, against its arena. */
static void print_acts_table(const lcfm_causal_encoder_config *c, size_t arena_bytes, int B) {
  double d = c->d, ff = c->ff, H = c->heads, T = c->T, K = c->kernel;
  const acts_candidate cand[] = {
      {"x1..x4 residual stream", 4 * d, 2 * ff * d + 2 * d * d, "the modules' output products", 1},
      {"q|k|v", 3 * d, 3 * d * d, "the q|k|v product", 1},
      {"attention output", d, T * d, "probabilities x V", 1},
      {"softmax max, 1/sum", 2 * H, 0, "max and sum passes over the scores", 1},
      {"output norm mean, rstd", 2, 0, "a statistics pass over x4", 1},
      {"block outputs but the last", d * (c->blocks - 1) / c->blocks, 0,
       "LN(x4) from its statistics, element-wise", 0},
      {"FFN hidden pre-activations", 2 * ff, 2 * d * ff, "fc1 of both feed-forward modules", 0},
      {"pointwise conv 1 output", 2 * d, 2 * d * d, "pw1", 0},
      {"depthwise conv output", d, K * d, "the depthwise convolution", 0},
      {"attention probabilities", H * T, T * d, "q k^T (and exp, from the statistics)", 0},
      {"layer-norm outputs (5)", 5 * d, 0, "element-wise passes", 0},
      {"layer-norm statistics (4)", 8, 0, "statistics passes", 0},
  };
  double per_lc = 2.0 * c->blocks * T * sizeof(float) / 1048576.0; /* MiB per float per row */
  double macs_lc = 2.0 * c->blocks * T;                            /* MACs per MAC per row */
  printf(
      "what a Conformer block keeps for backward (paper model, both encoders, %d blocks, T %d):\n",
      c->blocks, c->T);
  printf("  %-28s %8s %12s %14s  %s\n", "tensor", "MiB/LC", "MMAC/LC", "MAC/KiB kept",
         "kept  (else recomputed: ...)");
  double kept = 0;
  for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
    const acts_candidate *a = &cand[i];
    double mib = a->floats_per_row * per_lc, mmac = a->macs_per_row * macs_lc / 1e6;
    printf("  %-28s %8.3f %12.2f %14.0f  %-4s  %s\n", a->name, mib, mmac, mmac * 1e6 / (mib * 1024),
           a->kept ? "yes" : "no", a->otherwise);
    if (a->kept) kept += mib;
  }
  double last_out = d * 2 * T * sizeof(float) / 1048576.0,
         lstm = 6 * d * 2 * T * sizeof(float) / 1048576.0,
         x0 = d * 2 * T * sizeof(float) / 1048576.0;
  printf(
      "  kept by the blocks %.3f MiB + last block's output %.3f + embedding %.3f + LSTM (h, gates, c) %.3f = %.3f MiB"
      " per light curve; arena %.3f (target <= 2)\n",
      kept, last_out, x0, lstm, kept + last_out + x0 + lstm, arena_bytes / (double)B / 1048576.0);
}

static void bench_causal(int steps, double peak, int triplets, int keep_acts, int acts_table) {
  const int B = 3 * triplets;
  lcfm_causal_encoder_config cfg = lcfm_causal_encoder_defaults();
  cfg.max_batch = B;
  cfg.keep_block_acts = keep_acts;
  cfg.T = 100;
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  lcfm_causal_encoder enc[2];
  cfg.id = 0;
  lcfm_causal_encoder_init(&enc[0], &cfg, &p, "stellar");
  cfg.id = 1;
  lcfm_causal_encoder_init(&enc[1], &cfg, &p, "instrument");
  lcfm_nn_params_alloc(&p);
  lcfm_nn_params_init_default(&p, 1);
  lcfm_causal_encoder_alloc(&enc[0]);
  lcfm_causal_encoder_alloc(&enc[1]);
  int T = cfg.T, L = cfg.latent;
  float *times = lcfm_malloc(sizeof(float) * (size_t)B * T),
        *values = lcfm_malloc(sizeof(float) * (size_t)B * T);
  float *mask = lcfm_malloc(sizeof(float) * (size_t)B * T);
  int64_t *star = lcfm_malloc(sizeof(int64_t) * B), *instr = lcfm_malloc(sizeof(int64_t) * B);
  /* triplet k: anchor (star k, instrument k), same star / other instrument, same instrument /
   * other star */
  for (int k = 0; k < triplets; k++) {
    star[3 * k] = k, instr[3 * k] = k;
    star[3 * k + 1] = k, instr[3 * k + 1] = 1000 + k;
    star[3 * k + 2] = 2000 + k, instr[3 * k + 2] = k;
  }
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + t;
      times[i] = (float)t;
      values[i] = (float)(0.5 * sin(0.1 * t * (1 + star[b] % 7)) + 0.01 * lcfm_rng_normal(5, 1, i));
      mask[i] = 1.0f;
    }
  float *dz[2] = {lcfm_calloc((size_t)B * L, sizeof(float)),
                  lcfm_calloc((size_t)B * L, sizeof(float))};
  float *scratch = lcfm_malloc(sizeof(float) * lcfm_loss_infonce_scratch_floats(B, L));
  lcfm_adam opt = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  double *ms = lcfm_malloc(sizeof(double) * (size_t)(steps + 1)),
         *cpu = lcfm_malloc(sizeof(double) * (size_t)(steps + 1));
  double loss = 0;
  for (int s = 0; s <= steps; s++) {
    double t0 = lcfm_wtime(), c0 = cpu_time();
    lcfm_nn_params_zero_grad(&p);
    lcfm_nn_series x = {times, values, mask, NULL, B};
    const float *z0 = lcfm_causal_encoder_forward(&enc[0], &p, &x, 1, 1, (uint64_t)s);
    const float *z1 = lcfm_causal_encoder_forward(&enc[1], &p, &x, 1, 1, (uint64_t)s);
    memset(dz[0], 0, sizeof(float) * (size_t)B * L);
    memset(dz[1], 0, sizeof(float) * (size_t)B * L);
    loss = lcfm_loss_infonce(dz[0], z0, star, B, L, 0.1f, scratch, 1.0f) +
           lcfm_loss_infonce(dz[1], z1, instr, B, L, 0.1f, scratch, 1.0f);
    lcfm_causal_encoder_backward(&enc[0], &p, dz[0], 1);
    lcfm_causal_encoder_backward(&enc[1], &p, dz[1], 1);
    lcfm_adam_step(&opt, &p);
    ms[s] = (lcfm_wtime() - t0) * 1e3;
    cpu[s] = (cpu_time() - c0) * 1e3;
  }
  LCFM_CHECK(isfinite(loss), "bench: non-finite causal loss");
  lcfm_nn_check_finite_params(&p, p.params, "parameter");
  double bwd, fwd = lcfm_causal_encoder_flops(&cfg, B, &bwd);
  size_t act, scr, act1, scr1;
  lcfm_nn_memory(&enc[0].base.acts, &enc[0].base.scr, &act, &scr);
  lcfm_nn_memory(&enc[1].base.acts, &enc[1].base.scr, &act1, &scr1);
  act += act1, scr += scr1; /* a light curve goes through both encoders */
  printf("causal: 2 encoders x %d light curves (%d triplets), T %d, loss %.4f after %d steps, %s\n",
         B, triplets, T, loss, steps + 1,
         keep_acts ? "every block activation kept" : "blocks recomputed in backward");
  report("causal", median(ms + 1, steps), median(cpu + 1, steps), minimum(cpu + 1, steps),
         2 * (fwd + bwd), peak, act, scr, B, lcfm_nn_params_count(&p));
  if (acts_table && !keep_acts) print_acts_table(&cfg, act, B);
  lcfm_causal_encoder_free(&enc[0]), lcfm_causal_encoder_free(&enc[1]);
  lcfm_nn_params_free(&p);
  free(times), free(values), free(mask), free(star), free(instr), free(dz[0]), free(dz[1]),
      free(scratch), free(ms), free(cpu);
}

static void bench_astromer(int steps, double peak) {
  lcfm_astromer_config cfg = lcfm_astromer_defaults();
  int B = cfg.max_batch, T = cfg.T;
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  lcfm_astromer e;
  lcfm_astromer_init(&e, &cfg, &p, "astromer");
  lcfm_nn_params_alloc(&p);
  lcfm_nn_params_init_default(&p, 2);
  lcfm_astromer_alloc(&e);
  size_t n = (size_t)B * T;
  float *times = lcfm_malloc(sizeof(float) * n), *values = lcfm_malloc(sizeof(float) * n);
  float *valid = lcfm_malloc(sizeof(float) * n), *replace = lcfm_malloc(sizeof(float) * n);
  float *probed = lcfm_malloc(sizeof(float) * n), *target = lcfm_malloc(sizeof(float) * n);
  float *err = lcfm_malloc(sizeof(float) * n), *weight = lcfm_malloc(sizeof(float) * n);
  float *dpred = lcfm_malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) {
    times[i] = (float)(i % T) * 0.37f;
    target[i] = (float)(0.3 * sin(times[i]) + 0.05 * lcfm_rng_normal(6, 1, i));
    err[i] = (float)(0.02 + 0.05 * lcfm_rng_uniform(6, 2, i));
    valid[i] = 1.0f;
    double u = lcfm_rng_uniform(6, 3, i);
    probed[i] = u < 0.5;        /* 50% probed */
    replace[i] = u < 0.5 * 0.6; /* 60% of probed replaced by the mask token */
    values[i] = replace[i] ? 0.0f : target[i];
  }
  lcfm_astromer_weights(weight, err, valid, B, T);
  lcfm_adam opt = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f};
  double *ms = lcfm_malloc(sizeof(double) * (size_t)(steps + 1)),
         *cpu = lcfm_malloc(sizeof(double) * (size_t)(steps + 1));
  double loss = 0;
  for (int s = 0; s <= steps; s++) {
    double t0 = lcfm_wtime(), c0 = cpu_time();
    lcfm_nn_params_zero_grad(&p);
    lcfm_nn_series x = {times, values, valid, replace, B};
    const float *pred = lcfm_astromer_forward(&e, &p, &x, 1, 1, (uint64_t)s);
    memset(dpred, 0, sizeof(float) * n);
    loss = lcfm_loss_astromer_rmse(dpred, pred, target, weight, probed, B, T, 1.0f);
    lcfm_astromer_backward(&e, &p, dpred, 1);
    lcfm_adam_step(&opt, &p);
    ms[s] = (lcfm_wtime() - t0) * 1e3;
    cpu[s] = (cpu_time() - c0) * 1e3;
  }
  LCFM_CHECK(isfinite(loss), "bench: non-finite Astromer loss");
  double bwd, fwd = lcfm_astromer_flops(&cfg, B, &bwd);
  size_t act, scr;
  lcfm_nn_memory(&e.base.acts, &e.base.scr, &act, &scr);
  printf("astromer: %d windows of %d, d %d, %d blocks, loss %.4f after %d steps\n", B, T, cfg.d,
         cfg.blocks, loss, steps + 1);
  report("astromer", median(ms + 1, steps), median(cpu + 1, steps), minimum(cpu + 1, steps),
         fwd + bwd, peak, act, scr, B, lcfm_nn_params_count(&p));
  lcfm_astromer_free(&e);
  lcfm_nn_params_free(&p);
  free(times), free(values), free(valid), free(replace), free(probed), free(target), free(err),
      free(weight);
  free(dpred), free(ms), free(cpu);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  int threads = 2, steps = 5;
  const char *model = "both";
  double peak = 0;
  int triplets = 64, keep_acts = 0, acts_table = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!strcmp(argv[i], "--peak") && i + 1 < argc) peak = atof(argv[++i]);
    else if (!strcmp(argv[i], "--triplets") && i + 1 < argc) triplets = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--keep-acts")) keep_acts = 1;
    else if (!strcmp(argv[i], "--acts-table")) acts_table = 1;
    else {
      fprintf(
          stderr,
          "usage: bench_nn [--threads N] [--steps S] [--model causal|astromer|both] [--peak GFLOPS] [--triplets K]"
          " [--keep-acts] [--acts-table]\n");
      MPI_Finalize();
      return 2;
    }
  }
  if (steps < 1) steps = 1;
  if (triplets < 1) triplets = 1;
  lcfm_nn_set_threads(threads);
  lcfm_log_machine(threads);
  int given = peak > 0;
  if (!given) peak = measure_sgemm();
  printf(
      "threads %d (OpenMP; the GEMM library single-threaded per panel), %s sgemm peak 2048^3: %.1f GFLOP/s\n",
      threads, given ? "given" : "measured", peak);
  printf("RESULT sgemm gflops=%.3f threads=%d\n", peak, threads);
  if (!strcmp(model, "causal") || !strcmp(model, "both"))
    bench_causal(steps, peak, triplets, keep_acts, acts_table);
  if (!strcmp(model, "astromer") || !strcmp(model, "both")) bench_astromer(steps, peak);
  MPI_Finalize();
  return 0;
}
