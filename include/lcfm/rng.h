/* rng.h: counter-based random numbers keyed by (seed, stream, index).
 *
 * Every random quantity in lcfm is a pure function of the job's seed, a stream naming what
 * the number is for, and an index inside that stream (object number, point number, step...).
 * Nothing depends on the order of generation or on how many ranks or threads ask, so a
 * simulated object is the same bytes at any rank count and a resumed run redraws nothing.
 *
 * The generator is Philox4x32-10 (Salmon et al. 2011) from Random123: one call maps the
 * 128-bit counter (index, stream) under the 64-bit key (seed) to 128 random bits.
 *   uniform(seed, stream, i)  53-bit double in [0, 1)
 *   normal(seed, stream, i)   N(0, 1) by Box-Muller: counter i/2 gives the pair
 *                             (i even: cos branch, i odd: sin branch)
 *   normalf(seed, stream, i)  the same construction in single precision (its own sequence)
 */
#ifndef LCFM_RNG_H
#define LCFM_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Streams used by lcfm. New uses take a new number; existing numbers never change meaning. */
enum lcfm_stream {
  LCFM_STREAM_SIM_THETA = 1,      /* theta_{s,k}: index s*K + k */
  LCFM_STREAM_SIM_PHASE = 2,      /* phi_{n,k}: index n*(K-1) + k */
  LCFM_STREAM_SIM_BETA = 3,       /* beta_{m,j}: index m*J + j */
  LCFM_STREAM_SIM_GAMMA = 4,      /* gamma_{m,j}: index m*J + j */
  LCFM_STREAM_SIM_NOISE = 5,      /* eps_n(t): index n*T + t */
  LCFM_STREAM_SIM_INSTRUMENT = 6, /* first instrument of star s: index s */
  LCFM_STREAM_USER = 1000,        /* first free number for later modules */
};

/* 128 random bits for (seed, stream, counter) as four 32-bit words. */
void lcfm_rng_block(uint64_t seed, uint32_t stream, uint64_t counter, uint32_t out[4]);

double lcfm_rng_uniform(uint64_t seed, uint32_t stream, uint64_t index);
double lcfm_rng_normal(uint64_t seed, uint32_t stream, uint64_t index);
/* Integer uniform on [0, n): n > 0; bias below 2^-32 for n < 2^32. */
uint64_t lcfm_rng_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n);

/* Single-precision normal: Box-Muller in float on two 24-bit uniforms of counter i/2. About
 * twice as cheap as the double version; used where the result is stored as float anyway (the
 * simulator's noise). An independent sequence: it does not approximate lcfm_rng_normal. */
float lcfm_rng_normalf(uint64_t seed, uint32_t stream, uint64_t index);
void lcfm_rng_normalf_fill(float *out, size_t count, uint64_t seed, uint32_t stream,
                           uint64_t first);

/* out[i] = lcfm_rng_normal(seed, stream, first + i) for i < count, two draws per Philox call. */
void lcfm_rng_normal_fill(double *out, size_t count, uint64_t seed, uint32_t stream,
                          uint64_t first);
void lcfm_rng_uniform_fill(double *out, size_t count, uint64_t seed, uint32_t stream,
                           uint64_t first);

#endif
