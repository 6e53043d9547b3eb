/* machine.c: the CPU, vector ISAs, GEMM kernel, threads and binding a run uses (see machine.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "lcfm/machine.h"

#include <cblas.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(LCFM_GEMM_XSMM)
#include <libxsmm.h>
#elif defined(LCFM_GEMM_BLIS)
#include <blis.h>
#elif defined(LCFM_GEMM_DNNL)
#include <oneapi/dnnl/dnnl.h>
#endif

#include "lcfm/log.h"

/* OpenBLAS extensions (in OpenBLAS's cblas.h; repeated for other cblas headers). */
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_num_threads(void);

static void append(char *buf, size_t len, const char *word) {
  size_t used = strlen(buf);
  if (used + 1 < len) snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
}

static void probe_cpu_model(lcfm_machine *m) {
  snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
#if defined(__x86_64__) || defined(__i386__)
  unsigned brand[12] = {0}, top = __get_cpuid_max(0x80000000u, NULL);
  if (top >= 0x80000004u) {
    for (unsigned i = 0; i < 3; i++)
      __get_cpuid(0x80000002u + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                  &brand[4 * i + 3]);
    char text[49] = "";
    memcpy(text, brand, 48);
    const char *start = text;
    while (*start == ' ') start++; /* some brand strings are right-aligned */
    char *end = text + strlen(text);
    while (end > start && end[-1] == ' ') *--end = '\0';
    if (*start) snprintf(m->cpu_model, sizeof m->cpu_model, "%s", start);
  }
  /* Virtual machines often hide the model behind a generic brand: family and model say more. */
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    if (family >= 6) model += ((a >> 16) & 0xf) << 4;
    size_t used = strlen(m->cpu_model);
    snprintf(m->cpu_model + used, sizeof m->cpu_model - used, " (family %u model %u)", family,
             model);
  }
#endif
}

/* __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0). */
static void probe_cpu_isas(lcfm_machine *m) {
  m->cpu_isas[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  static const char *const names[] = {"sse4.2",     "avx",       "avx2",     "fma",
                                      "avx512f",    "avx512dq",  "avx512bw", "avx512vl",
                                      "avx512vnni", "avx512bf16"};
  /* __builtin_cpu_supports takes string literals only, hence one call each, in the order above. */
  const int present[] = {
      __builtin_cpu_supports("sse4.2"),     __builtin_cpu_supports("avx"),
      __builtin_cpu_supports("avx2"),       __builtin_cpu_supports("fma"),
      __builtin_cpu_supports("avx512f"),    __builtin_cpu_supports("avx512dq"),
      __builtin_cpu_supports("avx512bw"),   __builtin_cpu_supports("avx512vl"),
      __builtin_cpu_supports("avx512vnni"), __builtin_cpu_supports("avx512bf16")};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (present[i]) append(m->cpu_isas, sizeof m->cpu_isas, names[i]);
  m->cpu_has_avx2 = __builtin_cpu_supports("avx2") != 0;
#endif
  if (!m->cpu_isas[0]) snprintf(m->cpu_isas, sizeof m->cpu_isas, "none known");
}

static void probe_build_isas(lcfm_machine *m) {
  m->build_isas[0] = '\0';
#if defined(__AVX512F__)
  append(m->build_isas, sizeof m->build_isas, "avx512f");
#endif
#if defined(__AVX2__)
  append(m->build_isas, sizeof m->build_isas, "avx2");
#endif
#if defined(__FMA__)
  append(m->build_isas, sizeof m->build_isas, "fma");
#endif
#if defined(__x86_64__)
  if (!m->build_isas[0]) snprintf(m->build_isas, sizeof m->build_isas, "sse2 (x86-64 baseline)");
#endif
  if (!m->build_isas[0]) snprintf(m->build_isas, sizeof m->build_isas, "not x86");
}

static int name_in(const char *name, const char *const *names, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (!strcasecmp(name, names[i])) return 1;
  return 0;
}
#define NAME_IN(name, list) name_in(name, list, sizeof list / sizeof *list)

/* OpenBLAS's x86-64 kernels that use AVX2 (or wider); every other x86 kernel (Sandybridge,
 * Nehalem, Prescott, Barcelona, Bulldozer...) uses at most AVX. */
static const char *const openblas_avx2_cores[] = {
    "Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"};

/* OpenBLAS runs the probes' LAPACK (QR, PCA), and, under LCFM_GEMM=xsmm, the products libxsmm has no kernel for. */
static void probe_openblas(lcfm_machine *m) {
  const char *core = openblas_get_corename(), *forced = getenv("OPENBLAS_CORETYPE");
  snprintf(m->openblas_kernel, sizeof m->openblas_kernel, "%s", core ? core : "unknown");
  char *config = openblas_get_config();
  snprintf(m->openblas, sizeof m->openblas,
           "OpenBLAS kernel %s (OPENBLAS_CORETYPE %s), %d OpenBLAS threads, config: %s",
           m->openblas_kernel, forced ? forced : "unset", openblas_get_num_threads(),
           config ? config : "?");
#if defined(__x86_64__)
  m->openblas_below_avx2 = !NAME_IN(m->openblas_kernel, openblas_avx2_cores);
#endif
}

/* The library behind lcfm_nn_gemm (LCFM_GEMM) and its kernel. */
static void probe_gemm(lcfm_machine *m) {
  probe_openblas(m);
  int below = 0;
#if defined(LCFM_GEMM_XSMM)
  static const char *const avx2_archs[] = {"hsw", "knl", "knm", "skx", "clx", "cpx", "spr"};
  snprintf(m->gemm_kernel, sizeof m->gemm_kernel, "%s", libxsmm_get_target_arch());
  snprintf(m->gemm, sizeof m->gemm,
           "libxsmm %s JIT kernels for %s (alpha 1, beta 0/1, B not transposed), else %s",
           LIBXSMM_VERSION, m->gemm_kernel, m->openblas);
  below = !NAME_IN(m->gemm_kernel, avx2_archs);
#elif defined(LCFM_GEMM_BLIS)
  static const char *const avx2_archs[] = {"haswell", "zen", "zen2",     "zen3",
                                           "skx",     "knl", "excavator"};
  snprintf(m->gemm_kernel, sizeof m->gemm_kernel, "%s", bli_arch_string(bli_arch_query_id()));
  snprintf(m->gemm, sizeof m->gemm, "BLIS %s kernel %s; %s", bli_info_get_version_str(),
           m->gemm_kernel, m->openblas);
  below = !NAME_IN(m->gemm_kernel, avx2_archs);
#elif defined(LCFM_GEMM_DNNL)
  const dnnl_version_t *v = dnnl_version();
  unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
  snprintf(m->gemm_kernel, sizeof m->gemm_kernel, "isa 0x%x", isa);
  snprintf(m->gemm, sizeof m->gemm,
           "oneDNN %d.%d.%d dnnl_sgemm, effective ISA 0x%x (dnnl_cpu_isa_t); %s", v->major,
           v->minor, v->patch, isa, m->openblas);
  below = (isa & dnnl_cpu_isa_avx2) != dnnl_cpu_isa_avx2;
#else
  snprintf(m->gemm_kernel, sizeof m->gemm_kernel, "%s", m->openblas_kernel);
  snprintf(m->gemm, sizeof m->gemm, "%s", m->openblas);
#endif
#if defined(__x86_64__)
  m->gemm_kernel_below_avx2 = below || m->openblas_below_avx2;
#else
  (void)below;
#endif
}

static void probe_threads(lcfm_machine *m, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
  int mask_cpus = -1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) mask_cpus = CPU_COUNT(&set);
  snprintf(m->threads, sizeof m->threads,
           "%d OpenMP, OMP_PROC_BIND %s, OMP_PLACES %s, %d CPUs in the affinity mask of %ld online",
           threads, bind ? bind : "unset", places ? places : "unset", mask_cpus,
           sysconf(_SC_NPROCESSORS_ONLN));
}

void lcfm_machine_probe(lcfm_machine *m, int threads) {
  memset(m, 0, sizeof *m);
  probe_cpu_model(m);
  probe_cpu_isas(m);
  probe_build_isas(m);
  probe_gemm(m);
  probe_threads(m, threads);
}

void lcfm_machine_describe(const lcfm_machine *m, char *buf, size_t len) {
  snprintf(buf, len, "cpu %s; isa %s; build uses %s; gemm %s; threads %s", m->cpu_model,
           m->cpu_isas, m->build_isas, m->gemm, m->threads);
}

lcfm_node_placement lcfm_node_placement_of(const void *masks, int ranks, int threads) {
  const cpu_set_t *set = masks;
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int r = 0; r < ranks; r++) CPU_OR(&all, &all, &set[r]);
  lcfm_node_placement p = {
      .ranks = ranks, .needed = ranks * (threads > 0 ? threads : 1), .cpus = CPU_COUNT(&all)};
  for (int a = 0; a < ranks && !p.overlapped; a++)
    for (int b = a + 1; b < ranks && !p.overlapped; b++) {
      cpu_set_t both;
      CPU_AND(&both, &set[a], &set[b]);
      p.overlapped =
          CPU_COUNT(&both) > 0 && CPU_COUNT(&set[a]) < p.cpus && CPU_COUNT(&set[b]) < p.cpus;
    }
  return p;
}

void lcfm_check_node_placement(MPI_Comm comm, int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_ranks;
  MPI_Comm_size(node, &node_ranks);
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) {
    CPU_ZERO(&mine);
    for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; c++)
      CPU_SET((int)c, &mine);
  }
  cpu_set_t *masks = malloc((size_t)node_ranks * sizeof *masks);
  if (!masks) {
    MPI_Comm_free(&node);
    return; /* a check only: never the reason a run fails */
  }
  MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, masks, (int)sizeof mine, MPI_BYTE, node);
  lcfm_node_placement p = lcfm_node_placement_of(masks, node_ranks, threads);
  free(masks);
  MPI_Comm_free(&node);
  /* The node short of the most CPUs speaks: its numbers travel to rank 0. */
  int rank;
  MPI_Comm_rank(comm, &rank);
  int worst[2] = {p.needed - p.cpus, rank}, found[2];
  MPI_Allreduce(worst, found, 1, MPI_2INT, MPI_MAXLOC, comm);
  int numbers[4] = {p.ranks, p.needed, p.cpus, p.overlapped};
  MPI_Bcast(numbers, 4, MPI_INT, found[1], comm);
  if (rank == 0 && found[0] > 0)
    lcfm_warn(
        "%d ranks x %d threads on one node may run on only %d CPUs (the union of their affinity masks%s): "
        "ranks take turns and every collective waits for the slowest; bind fewer ranks or threads per node, "
        "or check mpirun's --bind-to / --map-by",
        numbers[0], threads, numbers[2], numbers[3] ? ", which overlap" : "");
}

void lcfm_log_machine(int threads) {
  if (lcfm_log_rank() != 0) return;
  lcfm_machine m;
  lcfm_machine_probe(&m, threads);
  lcfm_log("cpu %s; vector ISAs %s; this build uses %s", m.cpu_model, m.cpu_isas, m.build_isas);
  lcfm_log("gemm %s", m.gemm);
  lcfm_log("threads %s", m.threads);
  if (m.cpu_has_avx2 && m.gemm_kernel_below_avx2)
    lcfm_warn(
        "a GEMM kernel does not use AVX2, which this CPU has (engine: %s, OpenBLAS: %s): matrix products run "
        "at half speed or less (OpenBLAS: set OPENBLAS_CORETYPE=Haswell, or SkylakeX on AVX-512 CPUs)",
        m.gemm_kernel, m.openblas_kernel);
}
