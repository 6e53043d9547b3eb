/* alias.h: how much of theta_{s,0} a light curve of the simulator can carry at all, and how much of
 * it the instrument can confound: the ceiling of every probe of theta_0 (`lcfm probe`'s oracle) and
 * the numbers `lcfm simulate` logs for a regime.
 *
 * The simulator (sim.h) samples at whole steps t = 0..T-1 with period L_s = T exp(theta_0) lambda, so
 * a curve depends on the stellar frequency f = 1 / L_s only through its folded value
 *   g = |f - round(f)| in [0, 1/2]:
 * the aliases f = n + g (n >= 0) and f = n - g (n >= 1) give the same curves (up to the phases, which
 * are uniform). With theta_0 ~ N(0, 1) the best any estimator can do from the curves is the posterior
 * mean over those preimages,
 *   E[theta_0 | g] = sum_i w_i theta_i / sum_i w_i,  theta_i = -ln(f_i T lambda),  w_i = phi(theta_i) / f_i
 * (w is the density of f: the normal density phi times |d theta / d f| = 1 / f; it is also the density
 * of g, since |d f / d g| = 1). Its R^2, Var(E[theta_0 | g]) / Var(theta_0), is the alias bound.
 *
 * Truncation of the preimage sum: preimages are added in increasing f (g, 1 - g, 1 + g, 2 - g, ...).
 * Where theta < 1, w decreases with f, and every unit interval of f holds at most two preimages, so
 * after the last added preimage F the rest weigh at most 2 (w(F) + Phi(theta_F)) (Phi: the normal
 * distribution function, the integral of w beyond F). The sum stops when that bound is below 1e-15 of
 * the weight summed so far: the posterior mean is then exact to about 1e-13. Only when T lambda is below
 * about 0.3 (periods of a fraction of a step: nearly everything aliased) can this take more than
 * LCFM_ALIAS_MAX_PAIRS pairs; the rest is then replaced by its integral (weight 2 Phi(theta_F), mean
 * E[theta | theta < theta_F]), whose relative error is of order |theta_F| / F.
 */
#ifndef LCFM_ALIAS_H
#define LCFM_ALIAS_H

#include <stdint.h>

#define LCFM_ALIAS_MAX_PAIRS 10000

/* g = |f - round(f)| of f = 1 / (T exp(theta0) lambda). */
double lcfm_folded_frequency(double theta0, double lambda, int64_t T);
/* E[theta_0 | g] for the folded frequency g in [0, 1/2] (see the truncation rule above). */
double lcfm_theta0_posterior_mean_folded(double g, double lambda, int64_t T);
/* E[theta_0 | g(theta0)]: the best estimate of theta0 from the star's light curves. */
double lcfm_theta0_posterior_mean(double theta0, double lambda, int64_t T);

/* The alias bound Var(E[theta_0 | g]) / Var(theta_0), by deterministic quadrature over g:
 * Var = int_0^{1/2} (sum_i w_i theta_i)^2 / sum_i w_i dg - (int_0^{1/2} sum_i w_i theta_i dg)^2, with
 * u = ln g, composite 8-point Gauss-Legendre on panels of 1/8 in u over
 * [min(ln(1/2) - 40, -ln(T lambda) - 12), ln(1/2)] (the part of g left out has probability below 1e-16).
 * The integrand is smooth in u: halving the panels moved the result by less than 3e-15 for
 * 0.003 <= T lambda <= 1e6; a NumPy midpoint rule over theta_0 agrees within its own accuracy (1e-6)
 * (tests/sim/check_alias.py). */
double lcfm_alias_bound(double lambda, int64_t T);

/* P(g < J / (2T)): the fraction of stellar fundamentals inside the band of the instrument terms
 * (frequencies j / (2T), j < J), where the instrument can imitate or hide the star. Exact sum of
 * normal probabilities over the intervals n +- J / (2T); 1 when J / (2T) >= 1/2. */
double lcfm_instrument_band_fraction(double lambda, int64_t T, int64_t J);

#endif
