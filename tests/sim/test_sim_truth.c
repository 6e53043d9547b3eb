/* test_sim_truth.c: a simulated store holds enough truth to recompute every signal.
 * The ranks simulate a store collectively; each rank then reads /truth (theta, phase, beta,
 * gamma and the constants) straight from the file with HDF5, recomputes equations 1 to 4 by
 * direct summation in double precision for a sample of its shard (noise regenerated from the
 * keyed generator), and compares with /points/value: within 1e-5. */
#include <hdf5.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/rng.h"
#include "lcfm/sim.h"
#include "lcfm/store.h"

static double *read_matrix(hid_t file, const char *path, hsize_t dims[2]) {
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  LCFM_CHECK_H5(H5Sget_simple_extent_dims(space, dims, NULL));
  double *data = lcfm_malloc((size_t)(dims[0] * dims[1]) * sizeof *data);
  LCFM_CHECK_H5(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  H5Sclose(space);
  H5Dclose(dset);
  return data;
}

/* The scalar attribute `name` of `group`, read as `type` into *value. */
static void read_attribute(hid_t group, const char *name, hid_t type, void *value) {
  hid_t attr = LCFM_CHECK_H5(H5Aopen(group, name, H5P_DEFAULT));
  LCFM_CHECK_H5(H5Aread(attr, type, value));
  H5Aclose(attr);
}

static double read_real(hid_t group, const char *name) {
  double v = 0;
  read_attribute(group, name, H5T_NATIVE_DOUBLE, &v);
  return v;
}

static int64_t read_int(hid_t group, const char *name) {
  int64_t v = 0;
  read_attribute(group, name, H5T_NATIVE_INT64, &v);
  return v;
}

typedef struct {
  hsize_t theta_dims[2], phase_dims[2], beta_dims[2], gamma_dims[2];
  double *theta, *phase, *beta, *gamma;
  double alpha, lambda, scale, sigma, lo, hi;
  int64_t T, P;
  uint64_t seed;
} truth;

static void load_truth(truth *tr, const char *path) {
  hid_t file = LCFM_CHECK_H5(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
  tr->theta = read_matrix(file, "/truth/theta", tr->theta_dims);
  tr->phase = read_matrix(file, "/truth/phase", tr->phase_dims);
  tr->beta = read_matrix(file, "/truth/beta", tr->beta_dims);
  tr->gamma = read_matrix(file, "/truth/gamma", tr->gamma_dims);
  hid_t g = LCFM_CHECK_H5(H5Gopen2(file, "/truth", H5P_DEFAULT));
  tr->alpha = read_real(g, "alpha"), tr->lambda = read_real(g, "lambda");
  tr->scale = read_real(g, "instrument_scale"), tr->sigma = read_real(g, "noise_sigma");
  tr->lo = read_real(g, "clip_min"), tr->hi = read_real(g, "clip_max");
  tr->T = read_int(g, "T"), tr->P = read_int(g, "curves_per_star"),
  tr->seed = (uint64_t)read_int(g, "seed");
  H5Gclose(g);
  H5Fclose(file);
}

/* Equations 1-4 for object n of star s seen by instrument m, from the stored truth only. */
static double recompute(const truth *tr, int64_t n, int64_t s, int64_t m, int64_t t) {
  int64_t K = (int64_t)tr->theta_dims[1], J = (int64_t)tr->beta_dims[1];
  double period = (double)tr->T * exp(tr->theta[s * K]) * tr->lambda;
  double re = 0, im = 0;
  for (int64_t k = 1; k < K; k++) {
    double amp = tr->theta[s * K + k] / pow((double)k, tr->alpha);
    double angle = tr->phase[n * (K - 1) + k - 1] + 2 * M_PI * (double)k * (double)t / period;
    re += amp * cos(angle), im += amp * sin(angle);
  }
  (void)im;
  double gain = 1, offset = 0;
  for (int64_t j = 0; j < J; j++) {
    double wave = cos(M_PI * (double)j * (double)t / (double)tr->T);
    gain += tr->scale * tr->beta[m * J + j] * wave;
    offset += tr->scale * tr->gamma[m * J + j] * wave;
  }
  double clean = gain * re + offset;
  clean = clean < tr->lo ? tr->lo : (clean > tr->hi ? tr->hi : clean);
  return clean + tr->sigma * (double)lcfm_rng_normalf(tr->seed, LCFM_STREAM_SIM_NOISE,
                                                      (uint64_t)(n * tr->T + t));
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv), ranks;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  lcfm_sim_config c = lcfm_test_sim_config((lcfm_sim_config){.stars = 37,
                                                             .instruments = 7,
                                                             .curves_per_star = 5,
                                                             .terms = 9,
                                                             .K = 13,
                                                             .T = 100,
                                                             .block_stars = 4,
                                                             .seed = 99});
  char path[256] = "test_sim_truth_XXXXXX";
  lcfm_test_temp_dir(path, sizeof path);
  strcat(path, "/sim.h5");
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "simulate", NULL, argc, argv);
  lcfm_simulate_store(MPI_COMM_WORLD, &c, path, &prov);

  truth tr;
  load_truth(&tr, path);
  EXPECT(tr.theta_dims[0] == 37 && tr.phase_dims[0] == 185 && tr.beta_dims[0] == 7, "truth shapes");
  char why[512];
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  LCFM_CHECK(s, "%s", why);
  int64_t first, count, checked = 0;
  lcfm_store_shard(lcfm_store_object_count(s), rank, ranks, &first, &count);
  lcfm_store_cursor cursor;
  lcfm_store_cursor_begin(&cursor, s, first, count, 16);
  double worst = 0;
  while (lcfm_store_cursor_next(&cursor)) {
    const lcfm_object_batch *b = &cursor.batch;
    for (int64_t i = 0; i < b->count; i++) {
      if (b->id[i] % 3) continue; /* a sample: every third object */
      for (int32_t t = 0; t < b->length[i]; t++) {
        double expected = recompute(&tr, b->id[i], b->source[i], b->instrument[i], t);
        worst = fmax(worst, fabs(expected - b->value[b->offset[i] - b->offset[0] + t]));
        EXPECT(b->time[b->offset[i] - b->offset[0] + t] == t, "time of point %d", t);
      }
      checked++;
    }
  }
  lcfm_store_cursor_end(&cursor);
  lcfm_store_free(s);
  printf("[%d] checked %lld objects, worst |stored - recomputed| = %.3g\n", rank,
         (long long)checked, worst);
  EXPECT(checked > 0, "no object checked");
  EXPECT(worst <= 1e-5, "stored values differ from the truth by %g", worst);
  return lcfm_test_finish("test_sim_truth");
}
