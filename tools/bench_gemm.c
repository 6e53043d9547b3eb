/* bench_gemm.c: single-precision GEMM at the engine's shapes, one library next to another in one
 * run (issue 16 item 2): OpenBLAS (cblas_sgemm) and, where CMake found them, BLIS (bli_sgemm),
 * libxsmm (JIT kernels from libxsmm_smmdispatch, no BLAS fallback) and oneDNN (dnnl_sgemm).
 *
 *   bench_gemm [--peak GFLOPS] [--model causal|astromer|both] [--ms MS]
 *
 * The shapes and their calls per training step were recorded from lcfm_nn_gemm in tools/bench_nn
 * (--threads 1, default models: the causal paper model, 192 sequences of T 100 processed in chunks
 * of 8, and Astromer 2, 32 windows of 200 in chunks of 8), with tight leading dimensions. Every
 * library runs single-threaded (the engine splits large products over its threads itself). Each
 * shape is timed as the best of 15 runs of about MS milliseconds (default 2; short runs, so that
 * on a loaded machine some run unpreempted), after a check that its result matches OpenBLAS's.
 * Prints GFLOP/s per shape and library, the share of --peak (the FMA peak per core from
 * tools/bench_fma; tools/bench_gemm.sh passes it), and per model the libraries' rates over the
 * step's whole GEMM mix (total FLOPs / total time, calls weighted; OpenBLAS's time where a library
 * has no kernel, as lcfm_nn_gemm would fall back) and with the fastest library per shape. Lines starting with "RESULT" are for scripts.
 */
#define _GNU_SOURCE /* dladdr */
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"

#ifdef LCFM_BENCH_BLIS
#include <blis.h>
#endif
#ifdef LCFM_BENCH_XSMM
#include <libxsmm.h>
#endif
#ifdef LCFM_BENCH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

void openblas_set_num_threads(int num_threads);

typedef struct {
  const char *model;
  int ta, tb, m, n, k;
  int calls; /* per training step */
} gemm_shape;

/* Row-major C[m, n] = op(A) op(B); op = transpose where ta / tb. */
static const gemm_shape shapes[] = {
    {"causal", 0, 1, 800, 128, 64, 576},    {"causal", 0, 0, 800, 64, 128, 576},
    {"causal", 1, 0, 128, 64, 800, 576},    {"causal", 0, 1, 800, 64, 128, 384},
    {"causal", 0, 0, 800, 128, 64, 384},    {"causal", 1, 0, 64, 128, 800, 384},
    {"causal", 0, 1, 100, 100, 16, 12288},  {"causal", 0, 0, 100, 16, 100, 12288},
    {"causal", 1, 0, 100, 16, 100, 12288},  {"causal", 0, 1, 800, 192, 64, 192},
    {"causal", 0, 0, 800, 64, 192, 192},    {"causal", 1, 0, 192, 64, 800, 192},
    {"causal", 0, 1, 800, 64, 64, 384},     {"causal", 0, 0, 800, 64, 64, 384},
    {"causal", 1, 0, 64, 64, 800, 384},     {"causal", 1, 0, 256, 64, 19200, 4},
    {"causal", 0, 1, 19200, 256, 64, 2},    {"causal", 0, 0, 19200, 64, 256, 2},
    {"causal", 0, 1, 48, 256, 64, 792},     {"causal", 0, 0, 48, 64, 256, 792},
    {"astromer", 0, 1, 1600, 768, 256, 24}, {"astromer", 0, 0, 1600, 256, 768, 24},
    {"astromer", 1, 0, 768, 256, 1600, 24}, {"astromer", 0, 1, 200, 200, 64, 1536},
    {"astromer", 0, 0, 200, 64, 200, 1536}, {"astromer", 1, 0, 200, 64, 200, 1536},
    {"astromer", 0, 1, 1600, 256, 256, 24}, {"astromer", 0, 0, 1600, 256, 256, 24},
    {"astromer", 1, 0, 256, 256, 1600, 24}, {"astromer", 0, 1, 1600, 128, 256, 24},
    {"astromer", 0, 0, 1600, 128, 256, 24}, {"astromer", 1, 0, 256, 128, 1600, 24},
    {"astromer", 0, 1, 1600, 256, 128, 24}, {"astromer", 0, 0, 1600, 256, 128, 24},
    {"astromer", 1, 0, 128, 256, 1600, 24},
};
#define NSHAPES ((int)(sizeof shapes / sizeof *shapes))

/* A library's row-major sgemm (alpha 1, beta 0); returns 0, or -1 when it has no kernel for it. */
typedef int (*sgemm_fn)(const gemm_shape *s, const float *a, int lda, const float *b, int ldb,
                        float *c, int ldc);

typedef struct {
  const char *name;
  sgemm_fn gemm;
  char kernel[96];
} gemm_library;

static int openblas_gemm(const gemm_shape *s, const float *a, int lda, const float *b, int ldb,
                         float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
              s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  return 0;
}

#ifdef LCFM_BENCH_BLIS
static int blis_sgemm_rowmajor(const gemm_shape *s, const float *a, int lda, const float *b,
                               int ldb, float *c, int ldc) {
  float one = 1.0f, zero = 0.0f;
  /* Row-major: row stride = leading dimension, column stride 1. */
  bli_sgemm(s->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
            s->m, s->n, s->k, &one, (float *)a, lda, 1, (float *)b, ldb, 1, &zero, c, ldc, 1);
  return 0;
}
#endif

#ifdef LCFM_BENCH_XSMM
/* libxsmm is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, the
 * same buffers with the operands swapped. */
static int xsmm_gemm(const gemm_shape *s, const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc) {
  int flags = (s->tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s->ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  float one = 1.0f, zero = 0.0f;
  libxsmm_blasint m = s->n, n = s->m, k = s->k, ldA = ldb, ldB = lda, ldC = ldc;
  libxsmm_smmfunction kernel =
      libxsmm_smmdispatch(m, n, k, &ldA, &ldB, &ldC, &one, &zero, &flags, NULL);
  if (!kernel) return -1;
  kernel(b, a, c);
  return 0;
}
#endif

#ifdef LCFM_BENCH_DNNL
static int onednn_gemm(const gemm_shape *s, const float *a, int lda, const float *b, int ldb,
                       float *c, int ldc) {
  return dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, 1.0f, a, lda, b, ldb,
                    0.0f, c, ldc) == dnnl_success
             ? 0
             : -1;
}

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
  default: return "other";
  }
}
#endif

/* The file a function comes from: with several BLAS-like libraries loaded, which cblas_sgemm runs. */
static const char *library_of(void *function) {
  Dl_info info;
  return dladdr(function, &info) && info.dli_fname ? info.dli_fname : "?";
}

static int libraries(gemm_library *lib) {
  int n = 0;
  lib[n] = (gemm_library){"OpenBLAS", openblas_gemm, ""};
  snprintf(lib[n++].kernel, sizeof lib->kernel, "%s (cblas_sgemm from %s)", openblas_get_corename(),
           library_of((void *)cblas_sgemm));
#ifdef LCFM_BENCH_BLIS
  bli_thread_set_num_threads(1);
  lib[n] = (gemm_library){"BLIS", blis_sgemm_rowmajor, ""};
  snprintf(lib[n++].kernel, sizeof lib->kernel, "%s %s", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()));
#else
  printf("BLIS: not found by CMake (libblis-dev), skipped\n");
#endif
#ifdef LCFM_BENCH_XSMM
  libxsmm_init();
  lib[n] = (gemm_library){"libxsmm", xsmm_gemm, ""};
  snprintf(lib[n++].kernel, sizeof lib->kernel, "%s JIT %s", LIBXSMM_VERSION,
           libxsmm_get_target_arch());
#else
  printf("libxsmm: not found by CMake (libxsmm-dev), skipped\n");
#endif
#ifdef LCFM_BENCH_DNNL
  const dnnl_version_t *v = dnnl_version();
  lib[n] = (gemm_library){"oneDNN", onednn_gemm, ""};
  snprintf(lib[n++].kernel, sizeof lib->kernel, "%d.%d.%d %s", v->major, v->minor, v->patch,
           dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#else
  printf("oneDNN: not found by CMake (libdnnl-dev), skipped\n");
#endif
  return n;
}

static float *filled(size_t n, unsigned seed) {
  float *x = lcfm_malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed) % 1000) * 1e-3f - 0.5f;
  return x;
}

/* Largest |c - ref| relative to the largest |ref|. */
static double relative_difference(const float *c, const float *ref, size_t n) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < n; i++)
    diff = fmax(diff, fabs((double)c[i] - ref[i])), scale = fmax(scale, fabs((double)ref[i]));
  return diff / scale;
}

/* GFLOP/s of one library at one shape (0 when it has no kernel or its result is wrong). */
static double time_shape(const gemm_library *lib, const gemm_shape *s, const float *a,
                         const float *b, float *c, const float *ref, double run_ms) {
  int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n, ldc = s->n;
  if (lib->gemm(s, a, lda, b, ldb, c, ldc)) return 0;
  double diff = relative_difference(c, ref, (size_t)s->m * s->n);
  if (diff > 1e-4) {
    printf("  %s: result differs from OpenBLAS's by %.2g (relative): not timed\n", lib->name, diff);
    return 0;
  }
  double flops = 2.0 * s->m * s->n * s->k, t0 = lcfm_wtime();
  int reps = 0;
  while (lcfm_wtime() - t0 < run_ms * 1e-3) lib->gemm(s, a, lda, b, ldb, c, ldc), reps++;
  double best = 0;
  for (int r = 0; r < 15; r++) {
    t0 = lcfm_wtime();
    for (int i = 0; i < reps; i++) lib->gemm(s, a, lda, b, ldb, c, ldc);
    best = fmax(best, flops * reps / (lcfm_wtime() - t0) / 1e9);
  }
  return best;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_log_init(MPI_COMM_WORLD);
  double peak = 0, run_ms = 2;
  const char *model = "both";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--peak") && i + 1 < argc) peak = atof(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    else if (!strcmp(argv[i], "--ms") && i + 1 < argc) run_ms = atof(argv[++i]);
    else {
      fprintf(stderr,
              "usage: bench_gemm [--peak GFLOPS] [--model causal|astromer|both] [--ms MS]\n");
      MPI_Finalize();
      return 2;
    }
  }
  omp_set_num_threads(1); /* oneDNN and BLIS (OpenMP builds) single-threaded, as OpenBLAS below */
  openblas_set_num_threads(1);
  lcfm_log_machine(1);
  gemm_library lib[4];
  int nlib = libraries(lib);
  for (int l = 0; l < nlib; l++) printf("%-8s %s\n", lib[l].name, lib[l].kernel);
  printf("\n%-8s %2s %6s %5s %6s %6s |", "model", "op", "m", "n", "k", "calls");
  for (int l = 0; l < nlib; l++) printf(" %9s", lib[l].name);
  printf(" | GFLOP/s per shape, 1 thread%s\n", peak > 0 ? "; % of the FMA peak in brackets" : "");
  double flops_total[2] = {0}, time_total[2][5] = {{0}};
  int fallback[2][4] = {{0}};
  for (int si = 0; si < NSHAPES; si++) {
    const gemm_shape *s = &shapes[si];
    int mi = strcmp(s->model, "causal") != 0;
    if (strcmp(model, "both") && strcmp(model, s->model)) continue;
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
    float *a = filled(na, 1), *b = filled(nb, 2), *c = lcfm_malloc(nc * sizeof *c),
          *ref = lcfm_malloc(nc * sizeof *ref);
    openblas_gemm(s, a, s->ta ? s->m : s->k, b, s->tb ? s->k : s->n, ref, s->n);
    double rate[4], best = 0, flops = 2.0 * s->m * s->n * s->k * s->calls;
    for (int l = 0; l < nlib; l++)
      rate[l] = time_shape(&lib[l], s, a, b, c, ref, run_ms), best = fmax(best, rate[l]);
    printf("%-8s %c%c %6d %5d %6d %6d |", s->model, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m,
           s->n, s->k, s->calls);
    for (int l = 0; l < nlib; l++) {
      if (rate[l] > 0 && peak > 0) printf(" %5.1f(%2.0f)", rate[l], 100 * rate[l] / peak);
      else if (rate[l] > 0) printf(" %9.1f", rate[l]);
      else printf(" %9s", "n/a");
      printf("%s", rate[l] == best ? "*" : " ");
      /* A shape a library has no kernel for runs on OpenBLAS, as lcfm_nn_gemm would run it. */
      time_total[mi][l] += flops / ((rate[l] > 0 ? rate[l] : rate[0]) * 1e9); /* seconds */
      if (rate[l] <= 0) fallback[mi][l] = 1;
    }
    printf("\n");
    for (int l = 0; l < nlib; l++)
      printf("RESULT gemm model=%s op=%c%c m=%d n=%d k=%d library=%s gflops=%.3f\n", s->model,
             s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, lib[l].name, rate[l]);
    flops_total[mi] += flops;
    time_total[mi][4] += flops / (best * 1e9);
    free(a), free(b), free(c), free(ref);
  }
  printf(
      "\nthe step's GEMM mix (total FLOPs / total time over the shapes above, calls weighted), GFLOP/s%s:\n",
      peak > 0 ? " and % of the FMA peak" : "");
  for (int mi = 0; mi < 2; mi++) {
    if (flops_total[mi] == 0) continue;
    const char *name = mi ? "astromer" : "causal";
    char results[1024] = "";
    size_t used = 0;
    printf("%-8s %.1f GFLOP per step:", name, flops_total[mi] / 1e9);
    for (int l = 0; l <= nlib; l++) {
      int idx = l < nlib ? l : 4;
      const char *lname = l < nlib ? lib[l].name : "fastest-per-shape";
      char label[64];
      snprintf(label, sizeof label, "%s%s", lname,
               l < nlib && fallback[mi][l] ? "(+OpenBLAS for n/a)" : "");
      lname = label;
      double gf = flops_total[mi] / time_total[mi][idx] / 1e9; /* time_total in seconds */
      printf("  %s %.1f", lname, gf);
      if (peak > 0) printf(" (%.0f%%)", 100 * gf / peak);
      used += (size_t)snprintf(results + used, sizeof results - used,
                               "RESULT mix model=%s library=%s gflops=%.3f ms_per_step=%.3f\n",
                               name, lname, gf, time_total[mi][idx] * 1e3);
    }
    printf("\n%s", results);
  }
  MPI_Finalize();
  return 0;
}
