/* test_placement.c: lcfm_node_placement_of on crafted affinity masks (ranks all on one core,
 * one core each, one shared pair), and lcfm_check_node_placement on this run's real masks: the
 * shell test test_placement.sh checks its warning under taskset. */
#define _GNU_SOURCE /* cpu_set_t */
#include <sched.h>
#include <string.h>

#include "lcfm/machine.h"
#include "../lcfm_test.h"

static void masks_each_on(cpu_set_t *m, const int *cpu, int ranks) {
  for (int r = 0; r < ranks; r++) {
    CPU_ZERO(&m[r]);
    CPU_SET(cpu[r], &m[r]);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  cpu_set_t m[4];
  int one_core[4] = {0, 0, 0, 0}, own_cores[4] = {0, 1, 2, 3};
  masks_each_on(m, one_core, 4);
  lcfm_node_placement p = lcfm_node_placement_of(m, 4, 1);
  EXPECT(p.ranks == 4 && p.needed == 4 && p.cpus == 1,
         "four ranks on core 0: %d ranks need %d, have %d", p.ranks, p.needed, p.cpus);
  EXPECT(!p.overlapped,
         "identical masks that hold every CPU of the union are not reported as overlapping");
  masks_each_on(m, own_cores, 4);
  p = lcfm_node_placement_of(m, 4, 1);
  EXPECT(p.cpus == 4 && p.needed == 4 && !p.overlapped, "one core each: have %d, need %d", p.cpus,
         p.needed);
  p = lcfm_node_placement_of(m, 4, 2);
  EXPECT(p.needed == 8 && p.cpus == 4, "two threads each on one core each: need %d, have %d",
         p.needed, p.cpus);
  /* ranks 0 and 1 share CPU 1, rank 2 has CPUs 2 and 3 */
  CPU_ZERO(&m[0]);
  CPU_SET(0, &m[0]);
  CPU_SET(1, &m[0]);
  CPU_ZERO(&m[1]);
  CPU_SET(1, &m[1]);
  CPU_ZERO(&m[2]);
  CPU_SET(2, &m[2]);
  CPU_SET(3, &m[2]);
  p = lcfm_node_placement_of(m, 3, 1);
  EXPECT(p.cpus == 4 && p.overlapped, "a shared CPU: have %d, overlapped %d", p.cpus, p.overlapped);
  lcfm_check_node_placement(MPI_COMM_WORLD,
                            1); /* collective on the real masks: must not hang or fail */
  return lcfm_test_finish("test_placement");
}
