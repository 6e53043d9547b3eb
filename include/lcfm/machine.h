/* machine.h: what a run ran on, said once: the CPU model, the vector ISAs the CPU has and those
 * the build uses, the GEMM library behind lcfm_nn_gemm and the kernel it picked, threads and CPU
 * binding (issue 16 item 4). Engine speed on x86-64 depends on all of these (OpenBLAS picks its
 * kernels from the CPUID it sees, or from OPENBLAS_CORETYPE), so `train`, `embed` and the engine
 * benchmarks log them at start-up and every output file carries them in its provenance
 * (attribute "machine", provenance.h).
 *
 * A GEMM kernel below AVX2 on a CPU that has AVX2 (a virtual or too-new CPU that the library does
 * not recognise) is logged as a warning: the engine then runs at half its speed or less.
 */
#ifndef LCFM_MACHINE_H
#define LCFM_MACHINE_H

#include <mpi.h>
#include <stddef.h>

typedef struct {
  char cpu_model[64]; /* CPUID brand string, e.g. "AMD EPYC 9B45" */
  char cpu_isas[128]; /* vector ISAs the CPU and OS support: "sse4.2 avx avx2 fma avx512f ..." */
  char build_isas
      [64]; /* the widest the compiler targets in this build: "avx512f", "avx2 fma", "sse2" */
  char gemm[1024];      /* library, version, kernel and configuration behind lcfm_nn_gemm */
  char gemm_kernel[32]; /* its kernel name alone, e.g. "cpx" (libxsmm), "Haswell" (OpenBLAS) */
  char openblas[512];   /* OpenBLAS (the probes' LAPACK, and products libxsmm has no kernel for) */
  char openblas_kernel[32]; /* e.g. "Haswell" */
  char threads[160];        /* OpenMP threads, OMP_PROC_BIND, CPUs in the affinity mask / online */
  int cpu_has_avx2;
  int openblas_below_avx2;    /* 1: OpenBLAS's kernel uses less than AVX2 */
  int gemm_kernel_below_avx2; /* 1: the engine's GEMM kernel, or OpenBLAS's, uses less than AVX2 */
} lcfm_machine;

/* Fills `m` for this process; `threads` is the OpenMP thread count the run will use (<= 0:
 * OpenMP's default). Local, no communication. */
void lcfm_machine_probe(lcfm_machine *m, int threads);
/* One line: "cpu ...; isa ...; build ...; gemm ...; threads ...". */
void lcfm_machine_describe(const lcfm_machine *m, char *buf, size_t len);
/* Rank 0 logs the machine (lcfm_log) and warns when the GEMM kernel is below the CPU's AVX2. */
void lcfm_log_machine(int threads);

/* CPUs the ranks of one node may run on, against what they need. */
typedef struct {
  int ranks;      /* ranks on the node */
  int needed;     /* ranks x OpenMP threads */
  int cpus;       /* CPUs in the union of their affinity masks */
  int overlapped; /* 1: two ranks' masks share a CPU while neither holds every CPU of the union */
} lcfm_node_placement;

/* How `ranks` masks (cpu_set_t, one after another) and `threads` threads per rank fit. Local. */
lcfm_node_placement lcfm_node_placement_of(const void *masks, int ranks, int threads);
/* Collective over comm: rank 0 warns when the ranks of some node need more CPUs than their
 * affinity masks hold together (ranks x threads > CPUs), e.g. every rank bound to one core by a
 * topology mpirun misread: such ranks take turns, and every collective waits for the slowest,
 * which looks like a step time that grows with the rank count. */
void lcfm_check_node_placement(MPI_Comm comm, int threads);

#endif
