/* probe_draw.h: the MLP probe's protocol: which objects each run of `lcfm probe` trains on, stops
 * on and tests on, so that the spread between runs measures the representation and not the probe.
 *
 * Run r splits the stars (sources) afresh by a keyed uniform u_r(source):
 *   u < test_fraction                                  test star
 *   test_fraction <= u < test_fraction + stopping_fraction   stopping star
 *   otherwise                                          training star
 * (run 0's u is the one of lcfm_probe_is_test_source, so run 0's test stars are the linear probes'
 * held-out stars; runs r > 0 use a key derived from (seed, r)). From those pools, each by its own
 * keyed shuffle:
 *   test      at most test_objects objects of the test stars (every input is scored on them)
 *   stopping  at most stopping_objects objects of the stopping stars: the early-stopping pool,
 *             not counted in the training size n
 *   training  every object of the training stars, in draw order: size n trains on the first n
 *             (the sizes of one run are nested).
 * The three star sets are disjoint. Every rank computes the same draws (no communication).
 *
 * Without holding the pools (survey-sized stores): a pool's shuffle is a keyed Fisher-Yates over
 * its members in store order, so which member lands at a place, and at which place a member
 * lands, can be traced through the shuffle's swaps for a few members at a time: O(pool) keyed
 * draws and O(members traced) memory (lcfm_probe_draw_first, lcfm_probe_draw_places). `lcfm
 * probe` uses them to find the objects it reads (probe_sample.h); the results equal
 * lcfm_probe_draw_make's.
 */
#ifndef LCFM_PROBE_DRAW_H
#define LCFM_PROBE_DRAW_H

#include <stdint.h>

typedef struct {
  double test_fraction, stopping_fraction;
  int64_t test_objects, stopping_objects;
  uint64_t seed;
} lcfm_probe_protocol;

typedef enum { LCFM_STAR_TRAINING = 0, LCFM_STAR_TEST = 1, LCFM_STAR_STOPPING = 2 } lcfm_star_role;

/* Codes of /mlp/draw [runs, N]: >= 0 the object's place in the run's training order (size n uses
 * those below n); otherwise one of these. */
enum { LCFM_DRAW_TEST = -1, LCFM_DRAW_STOPPING = -2, LCFM_DRAW_UNUSED = -3 };

typedef struct {
  int64_t training_pool;             /* objects of the run's training stars */
  int64_t *training, training_count; /* objects (rows) of training stars, in draw order: all of them
                                      * (lcfm_probe_draw_make) or the first training_count */
  int64_t *stopping, stopping_count; /* the early-stopping pool */
  int64_t *test, test_count;         /* the test set */
} lcfm_probe_draw;

lcfm_star_role lcfm_probe_star_role(const lcfm_probe_protocol *p, int run, int64_t source);
/* Whether a source is one of run 0's test stars, the linear probes' held-out stars:
 * uniform(seed, source) < test_fraction, keyed by the source so that every rank agrees. */
int lcfm_probe_is_test_source(uint64_t seed, double test_fraction, int64_t source);
/* Run `run`'s draw over objects with the given sources (rows in store order). */
void lcfm_probe_draw_make(lcfm_probe_draw *d, const lcfm_probe_protocol *p, int run,
                          const int64_t *source, int64_t objects);
/* code [objects]: the /mlp/draw row of this draw. */
void lcfm_probe_draw_codes(const lcfm_probe_draw *d, int64_t objects, int64_t *code);
void lcfm_probe_draw_free(lcfm_probe_draw *d);

/* Run `run`'s shuffle of the pool of stars `pool` (pool_size members, numbered 0.. in store
 * order): member[k] = the member at place k, for the first `count` places (count <= pool_size). */
void lcfm_probe_draw_first(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                           int64_t pool_size, int64_t count, int64_t *member);
/* The same shuffle: place[i] = the place of member[i], for `count` distinct members. */
void lcfm_probe_draw_places(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                            int64_t pool_size, const int64_t *member, int64_t count,
                            int64_t *place);

#endif
