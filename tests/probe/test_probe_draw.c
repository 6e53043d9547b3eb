/* test_probe_draw.c: the MLP probe's protocol (probe_draw.h) on stars with uneven numbers of
 * objects: in every run the training, stopping and test stars are disjoint; the stopping pool
 * and the test set come only from their stars, within their caps, and are apart from the n
 * training objects (size n takes the first n of the training order, which holds every object of
 * the training stars once); each run draws other test stars; run 0's test stars are
 * lcfm_probe_is_test_source's (the linear probes' split); the draws are deterministic; tracing
 * members through a pool's shuffle (lcfm_probe_draw_first, lcfm_probe_draw_places) gives the
 * draw's places, for the whole pool and for a few members. */
#include <stdlib.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/probe.h"
#include "lcfm/probe_draw.h"

enum { STARS = 400, RUNS = 5 };

static int count_role(const int64_t *code, int64_t objects, int64_t role) {
  int n = 0;
  for (int64_t i = 0; i < objects; i++) n += code[i] == role;
  return n;
}

/* The pool's members in store order: member k of `pool` is object pool_object[k]. */
static int64_t pool_members(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                            const int64_t *source, int64_t objects, int64_t *pool_object) {
  int64_t n = 0;
  for (int64_t i = 0; i < objects; i++)
    if (lcfm_probe_star_role(p, run, source[i]) == pool) pool_object[n++] = i;
  return n;
}

/* The traced shuffle against the draw's: `drawn` the whole pool's objects in draw order (the
 * draw's arrays hold the whole shuffled pool, also beyond a capped count). */
static void check_traces(const lcfm_probe_protocol *p, int run, lcfm_star_role pool,
                         const int64_t *source, int64_t objects, const int64_t *drawn) {
  static int64_t pool_object[STARS * 7], member[STARS * 7], place[STARS * 7], some[3];
  int64_t n = pool_members(p, run, pool, source, objects, pool_object), count = n;
  lcfm_probe_draw_first(p, run, pool, n, count, member);
  for (int64_t k = 0; k < count; k++)
    EXPECT(pool_object[member[k]] == drawn[k],
           "run %d pool %d: place %lld holds object %lld, the draw has %lld", run, (int)pool,
           (long long)k, (long long)pool_object[member[k]], (long long)drawn[k]);
  for (int64_t k = 0; k < count; k++) member[k] = k; /* where do members 0.. land? */
  lcfm_probe_draw_places(p, run, pool, n, member, count, place);
  for (int64_t k = 0; k < count; k++)
    EXPECT(drawn[place[k]] == pool_object[k], "run %d pool %d: member %lld lands at %lld", run,
           (int)pool, (long long)k, (long long)place[k]);
  int64_t last[3] = {n - 1, n / 2, 0}; /* a few members alone */
  lcfm_probe_draw_places(p, run, pool, n, last, 3, some);
  lcfm_probe_draw_first(p, run, pool, n, n, member);
  for (int k = 0; k < 3; k++)
    EXPECT(member[some[k]] == last[k], "run %d pool %d: member %lld alone", run, (int)pool,
           (long long)last[k]);
  int64_t first[7], few = n < 7 ? n : 7; /* the first few places alone */
  lcfm_probe_draw_first(p, run, pool, n, few, first);
  EXPECT(!memcmp(first, member, (size_t)few * sizeof *first),
         "run %d pool %d: the first %lld places alone", run, (int)pool, (long long)few);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  /* star s has 1 + s % 7 objects, objects of a star not contiguous */
  int64_t objects = 0, source[STARS * 7];
  for (int k = 0; k < 7; k++)
    for (int64_t s = 0; s < STARS; s++)
      if (k < 1 + s % 7) source[objects++] = 1000 + 3 * s; /* sources need not be 0..S-1 */
  lcfm_probe_protocol p = {.test_fraction = 0.2,
                           .stopping_fraction = 0.1,
                           .test_objects = 250,
                           .stopping_objects = 60,
                           .seed = 11};
  static int64_t code[RUNS][STARS * 7];
  for (int r = 0; r < RUNS; r++) {
    lcfm_probe_draw d, again;
    lcfm_probe_draw_make(&d, &p, r, source, objects);
    lcfm_probe_draw_make(&again, &p, r, source, objects);
    lcfm_probe_draw_codes(&d, objects, code[r]);
    EXPECT(d.test_count == 250 && d.stopping_count == 60,
           "run %d: %lld test, %lld stopping objects", r, (long long)d.test_count,
           (long long)d.stopping_count);
    EXPECT(again.training_count == d.training_count &&
               !memcmp(again.training, d.training, (size_t)d.training_count * sizeof *d.training) &&
               !memcmp(again.test, d.test, (size_t)d.test_count * sizeof *d.test),
           "run %d: not deterministic", r);
    /* role of each star from the draw: every object of a star must agree */
    static int role[STARS];
    for (int s = 0; s < STARS; s++) role[s] = -1;
    int64_t training_objects = 0;
    for (int64_t i = 0; i < objects; i++) {
      int s = (int)((source[i] - 1000) / 3);
      lcfm_star_role expected = lcfm_probe_star_role(&p, r, source[i]);
      int is = code[r][i] >= 0                    ? LCFM_STAR_TRAINING
               : code[r][i] == LCFM_DRAW_TEST     ? LCFM_STAR_TEST
               : code[r][i] == LCFM_DRAW_STOPPING ? LCFM_STAR_STOPPING
                                                  : (int)expected; /* unused: capped */
      EXPECT(is == (int)expected, "run %d object %lld: drawn as %d, its star is %d", r,
             (long long)i, is, (int)expected);
      if (role[s] >= 0) EXPECT(role[s] == (int)expected, "star %d has two roles", s);
      role[s] = (int)expected;
      if (expected == LCFM_STAR_TRAINING) {
        training_objects++;
        EXPECT(code[r][i] >= 0,
               "run %d: object %lld of a training star is not in the training order", r,
               (long long)i);
      }
      if (r == 0)
        EXPECT((expected == LCFM_STAR_TEST) ==
                   lcfm_probe_is_test_source(p.seed, p.test_fraction, source[i]),
               "run 0's test stars are not the linear probes' held-out stars");
    }
    EXPECT(training_objects == d.training_count, "training order holds %lld of %lld objects",
           (long long)d.training_count, (long long)training_objects);
    /* the first n training objects (any n) never include a stopping or test object */
    for (int64_t k = 0; k < d.training_count; k++)
      EXPECT(code[r][d.training[k]] == k, "run %d: training place %lld", r, (long long)k);
    EXPECT(count_role(code[r], objects, LCFM_DRAW_TEST) == 250, "run %d: test codes", r);
    EXPECT(count_role(code[r], objects, LCFM_DRAW_STOPPING) == 60, "run %d: stopping codes", r);
    check_traces(&p, r, LCFM_STAR_TRAINING, source, objects, d.training);
    check_traces(&p, r, LCFM_STAR_TEST, source, objects, d.test);
    check_traces(&p, r, LCFM_STAR_STOPPING, source, objects, d.stopping);
    lcfm_probe_draw_free(&d), lcfm_probe_draw_free(&again);
  }
  /* fresh test stars per run: the test sets of two runs share few objects */
  for (int r = 1; r < RUNS; r++) {
    int shared = 0;
    for (int64_t i = 0; i < objects; i++)
      shared += code[r][i] == LCFM_DRAW_TEST && code[0][i] == LCFM_DRAW_TEST;
    EXPECT(shared < 125, "runs 0 and %d share %d of 250 test objects", r, shared);
    if (r == 1)
      printf("runs 0 and 1 share %d of 250 test objects (about 0.2 x 250 expected)\n", shared);
  }
  return lcfm_test_finish("test_probe_draw");
}
