/* bench_nn_embed.c: embedding (inference) throughput of the causal paper's model (issue 5).
 *
 *   bench_nn_embed [--threads N] [--batch B] [--batches K] [--repeats R]
 *
 * The model `lcfm embed` runs: both encoders of the causal dual-encoder model at the paper's
 * configuration (4 Conformer blocks, d 64, 4 heads, ff 128, kernel 31, LSTM, latent 20, T 100),
 * through lcfm_causal_embed (no gradients, no dropout), on B windows of 100 valid points per
 * call, with N OpenMP threads. Each repeat times K calls after one warm-up call; prints light
 * curves per second (median over repeats), per core (divided by N) and per CPU second (the
 * process's CPU time, which a loaded machine disturbs less than wall time) and GFLOP/s (the
 * analytic forward FLOPs, lcfm_causal_encoder_flops, of both encoders). The line starting with
 * "RESULT" is parsed by tools/bench_embed.sh, which runs PyTorch's inference of the same model
 * (tools/reference/bench_embed_torch.py) next to it.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/models.h"
#include "lcfm/rng.h"

/* CPU seconds used by every thread of this process. */
static double cpu_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The paper's model (DESIGN.md section 6), the defaults of the [model] keys. */
static lcfm_causal_config paper_model(int batch) {
  return (lcfm_causal_config){.kind = LCFM_CAUSAL, .encoder = LCFM_ENCODER_CONFORMER, .T = 100, .d = 64, .heads = 4,
                              .ff = 128, .blocks = 4, .kernel = 31, .latent = 20, .mlp_hidden = 256,
                              .proj_hidden = 64, .proj_dim = 32, .decoder_hidden = 64, .dropout = 0, .tau = 0.1f,
                              .w_recon = 1, .w_star = 1, .w_instr = 1, .max_rows = batch};
}

/* B light curves of T valid points: a few harmonics and noise, as the simulator makes. */
static void make_windows(float *times, float *values, float *mask, int B, int T) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)b * T + (size_t)t;
      times[i] = (float)t;
      values[i] = (float)(0.5 * sin(0.1 * t * (1 + b % 7)) + 0.03 * lcfm_rng_normal(5, 1, i));
      mask[i] = 1.0f;
    }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  int threads = 1, batch = 256, batches = 4, repeats = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_nn_embed [--threads N] [--batch B] [--batches K] [--repeats R]\n");
      MPI_Finalize();
      return 2;
    }
  }
  if (threads < 1 || batch < 1 || batches < 1 || repeats < 1) LCFM_FATAL("bench_nn_embed: arguments must be positive");
  lcfm_nn_set_threads(threads);
  lcfm_log_machine(threads);
  lcfm_causal_config cfg = paper_model(batch);
  lcfm_causal_model model;
  lcfm_causal_init(&model, &cfg, 3, 1);
  size_t n = (size_t)batch * (size_t)cfg.T;
  float *times = lcfm_malloc(n * sizeof *times), *values = lcfm_malloc(n * sizeof *values);
  float *mask = lcfm_malloc(n * sizeof *mask);
  make_windows(times, values, mask, batch, cfg.T);
  const float *z_star, *z_instr;
  lcfm_causal_embed(&model, times, values, mask, batch, &z_star, &z_instr); /* warm-up */
  double *rate = lcfm_malloc((size_t)repeats * sizeof *rate), *cpu_rate = lcfm_malloc((size_t)repeats * sizeof *rate);
  double checksum = 0;
  for (int r = 0; r < repeats; r++) {
    double t0 = lcfm_wtime(), c0 = cpu_time();
    for (int k = 0; k < batches; k++) lcfm_causal_embed(&model, times, values, mask, batch, &z_star, &z_instr);
    rate[r] = (double)batch * batches / (lcfm_wtime() - t0);
    cpu_rate[r] = (double)batch * batches / (cpu_time() - c0);
  }
  for (size_t i = 0; i < (size_t)batch * (size_t)cfg.latent; i++) checksum += fabs(z_star[i]) + fabs(z_instr[i]);
  LCFM_CHECK(isfinite(checksum), "bench_nn_embed: non-finite latents");
  double lo = rate[0], hi = rate[0];
  for (int r = 1; r < repeats; r++) lo = fmin(lo, rate[r]), hi = fmax(hi, rate[r]);
  double med = median(rate, repeats), cpu_med = median(cpu_rate, repeats);
  double backward, flops_per_lc = 2 * lcfm_causal_encoder_flops(&model.conformer[0].cfg, batch, &backward) / batch;
  printf("lcfm  causal embed: 2 encoders, %d windows of %d per call, %d threads: %.0f light curves/s "
         "(median of %d repeats of %d calls, range %.0f-%.0f), %.0f per core, %.0f per CPU second, %.1f GFLOP/s\n",
         batch, cfg.T, threads, med, repeats, batches, lo, hi, med / threads, cpu_med, med * flops_per_lc / 1e9);
  printf("RESULT embed lc_per_s=%.3f per_core=%.3f per_cpu_s=%.3f threads=%d batch=%d gflops=%.3f\n", med, med / threads,
         cpu_med, threads, batch, med * flops_per_lc / 1e9);
  lcfm_causal_free(&model);
  free(times), free(values), free(mask), free(rate), free(cpu_rate);
  MPI_Finalize();
  return 0;
}
