/* rng.c: Philox4x32-10 draws (Random123) turned into uniform and normal variates. */
#include "lcfm/rng.h"

#include <math.h>

#include <Random123/philox.h>

void lcfm_rng_block(uint64_t seed, uint32_t stream, uint64_t counter, uint32_t out[4]) {
  philox4x32_ctr_t ctr = {{(uint32_t)counter, (uint32_t)(counter >> 32), stream, 0u}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t r = philox4x32(ctr, key);
  for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

/* 53 random bits from two words, as a double in [0, 1). */
static double to_unit(uint32_t hi, uint32_t lo) {
  uint64_t bits = ((uint64_t)hi << 21) ^ (lo >> 11);
  return (double)(bits & ((1ull << 53) - 1)) * 0x1.0p-53;
}

double lcfm_rng_uniform(uint64_t seed, uint32_t stream, uint64_t index) {
  uint32_t w[4];
  lcfm_rng_block(seed, stream, index, w);
  return to_unit(w[0], w[1]);
}

void lcfm_rng_uniform_fill(double *out, size_t count, uint64_t seed, uint32_t stream,
                           uint64_t first) {
  for (size_t i = 0; i < count; i++) out[i] = lcfm_rng_uniform(seed, stream, first + i);
}

uint64_t lcfm_rng_below(uint64_t seed, uint32_t stream, uint64_t index, uint64_t n) {
  uint32_t w[4];
  lcfm_rng_block(seed, stream, index, w);
  uint64_t bits = ((uint64_t)w[2] << 32) | w[3];
  /* Multiply-shift on 64 bits: floor(bits * n / 2^64) without 128-bit integers. */
  uint64_t hi_bits = bits >> 32, lo_bits = bits & 0xffffffffu;
  uint64_t n_hi = n >> 32, n_lo = n & 0xffffffffu;
  uint64_t mid = hi_bits * n_lo + ((lo_bits * n_lo) >> 32);
  uint64_t mid2 = lo_bits * n_hi + (mid & 0xffffffffu);
  return hi_bits * n_hi + (mid >> 32) + (mid2 >> 32);
}

/* Box-Muller on counter c: the pair (z0, z1) for indices 2c and 2c+1. */
static void normal_pair(uint64_t seed, uint32_t stream, uint64_t c, double *z0, double *z1) {
  uint32_t w[4];
  lcfm_rng_block(seed, stream, c, w);
  double u1 = 1.0 - to_unit(w[0], w[1]); /* (0, 1]: log never sees zero */
  double u2 = to_unit(w[2], w[3]);
  double radius = sqrt(-2.0 * log(u1));
  double angle = 2.0 * M_PI * u2;
  *z0 = radius * cos(angle);
  *z1 = radius * sin(angle);
}

/* Single-precision Box-Muller on the same counter: the pair (z0, z1) for indices 2c, 2c+1. */
static void normal_pair_float(uint64_t seed, uint32_t stream, uint64_t c, float *z0, float *z1) {
  uint32_t w[4];
  lcfm_rng_block(seed, stream, c, w);
  float u1 = (float)((w[0] >> 8) + 1) * 0x1.0p-24f; /* (0, 1] */
  float u2 = (float)(w[1] >> 8) * 0x1.0p-24f;       /* [0, 1) */
  float radius = sqrtf(-2.0f * logf(u1));
  float angle = 2.0f * (float)M_PI * u2;
  *z0 = radius * cosf(angle);
  *z1 = radius * sinf(angle);
}

/* A normal draw and its fill from a Box-Muller pair function, for each precision: index i is
 * branch i & 1 of the pair at counter i / 2; a fill draws whole pairs, plus a lone first or last
 * index. */
#define DEFINE_NORMAL(type, draw, fill, pair) \
  type draw(uint64_t seed, uint32_t stream, uint64_t index) { \
    type z0, z1; \
    pair(seed, stream, index >> 1, &z0, &z1); \
    return (index & 1) ? z1 : z0; \
  } \
  void fill(type *out, size_t count, uint64_t seed, uint32_t stream, uint64_t first) { \
    size_t i = 0; \
    if (count > 0 && (first & 1)) out[i++] = draw(seed, stream, first); \
    for (; i + 1 < count; i += 2) pair(seed, stream, (first + i) >> 1, &out[i], &out[i + 1]); \
    if (i < count) out[i] = draw(seed, stream, first + i); \
  }

DEFINE_NORMAL(double, lcfm_rng_normal, lcfm_rng_normal_fill, normal_pair)
DEFINE_NORMAL(float, lcfm_rng_normalf, lcfm_rng_normalf_fill, normal_pair_float)
