/* test_nn_reference.c: the composed encoders against the committed PyTorch fixture
 * (tools/reference/nn_reference.bin, written by tools/reference/nn_reference.py in float64).
 *
 * The causal encoder in its paper configuration (4 Conformer blocks, d 64, 4 heads, ff 128,
 * kernel 31, LSTM, latent 20) and a reduced-width Astromer 2 encoder are rebuilt with the same
 * tensor names, filled with the same hashed weights, run forward on the fixture's inputs and
 * backward with its output gradient. Every output and every parameter gradient must match:
 *   max_i |c_i - torch_i| / max_i |torch_i| <= 1e-4   (per tensor)
 * and the fixture must name every tensor of the C table (and nothing else). The Astromer 2
 * pretraining objective (one block at the paper's width without residual connections, one
 * narrower with them, the head, error weights and weighted RMSE) is checked the same way, with
 * the gradients of the loss itself. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "../lcfm_test.h"
#include "lcfm/error.h"
#include "lcfm/nn_models.h"

#ifndef LCFM_NN_FIXTURE
#error "LCFM_NN_FIXTURE must name tools/reference/nn_reference.bin"
#endif

#define TOL 1e-4

typedef struct {
  char name[65];
  uint32_t kind, ndim;
  int64_t shape[4];
  float offset, scale;
  size_t n;
  float *data;
} record;

static record *recs;
static int nrecs;

static void load(const char *path) {
  FILE *f = fopen(path, "rb");
  LCFM_CHECK(f != NULL, "cannot open the fixture %s", path);
  char magic[8];
  uint32_t count;
  LCFM_CHECK(fread(magic, 1, 8, f) == 8 && memcmp(magic, "LCFMNNR1", 8) == 0,
             "%s: not an lcfm nn fixture", path);
  LCFM_CHECK(fread(&count, 4, 1, f) == 1 && count < 100000, "%s: bad record count", path);
  recs = lcfm_calloc(count, sizeof *recs);
  nrecs = (int)count;
  for (int r = 0; r < nrecs; r++) {
    record *x = &recs[r];
    char name[64];
    LCFM_CHECK(fread(name, 1, 64, f) == 64 && fread(&x->kind, 4, 1, f) == 1 &&
                   fread(&x->ndim, 4, 1, f) == 1 && fread(x->shape, 8, 4, f) == 4 &&
                   fread(&x->offset, 4, 1, f) == 1 && fread(&x->scale, 4, 1, f) == 1,
               "%s: truncated header of record %d", path, r);
    memcpy(x->name, name, 64);
    x->name[64] = '\0';
    LCFM_CHECK(x->ndim <= 4, "%s: record %s has %u dims", path, x->name, x->ndim);
    x->n = 1;
    for (uint32_t k = 0; k < x->ndim; k++) x->n *= (size_t)x->shape[k];
    x->data = lcfm_malloc(x->n * sizeof(float) + 4);
    LCFM_CHECK(fread(x->data, sizeof(float), x->n, f) == x->n, "%s: truncated data of %s", path,
               x->name);
  }
  fclose(f);
}

static record *find(const char *name) {
  for (int r = 0; r < nrecs; r++)
    if (strcmp(recs[r].name, name) == 0) return &recs[r];
  LCFM_FATAL("fixture has no record %s", name);
}

static uint64_t fnv1a64(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001B3ull;
  return h;
}

static uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Fill every tensor of p named in the fixture with its hashed weights; check shapes and coverage. */
static void fill_from_fixture(lcfm_nn_params *p, const char *prefix) {
  int matched = 0, fixture_params = 0;
  size_t plen = strlen(prefix);
  for (int r = 0; r < nrecs; r++) {
    record *x = &recs[r];
    if (x->kind != 1 || strncmp(x->name, prefix, plen) != 0 || x->name[plen] != '.') continue;
    fixture_params++;
    int ti = lcfm_nn_params_find(p, x->name);
    EXPECT(ti >= 0, "fixture tensor %s is not in the C table", x->name);
    if (ti < 0) continue;
    lcfm_nn_tensor *t = &p->tensors[ti];
    int same = t->ndim == (int)x->ndim;
    for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == x->shape[k];
    EXPECT(same, "tensor %s: shape differs between C and the fixture", x->name);
    if (!same) continue;
    matched++;
    uint64_t h = fnv1a64(x->name);
    for (size_t i = 0; i < t->numel; i++) {
      double u = (double)(splitmix64(h + i) >> 40) / (double)(1 << 24);
      p->params[t->offset + i] = (float)((double)x->offset + (double)x->scale * (2.0 * u - 1.0));
    }
  }
  EXPECT(matched == p->count && fixture_params == p->count,
         "%s: C table has %d tensors, fixture %d, matched %d", prefix, p->count, fixture_params,
         matched);
}

static double compare(const char *what, const float *c, const float *ref, size_t n) {
  double maxref = 0, maxerr = 0;
  for (size_t i = 0; i < n; i++) {
    maxref = fmax(maxref, fabs(ref[i]));
    maxerr = fmax(maxerr, fabs((double)c[i] - ref[i]));
  }
  double rel = maxerr / fmax(maxref, 1e-30);
  EXPECT(maxref > 0.0, "%s: reference is all zero", what);
  EXPECT(rel <= TOL, "%s: relative error %.3g > %g (max |ref| %.3g)", what, rel, TOL, maxref);
  return rel;
}

static double compare_grads(lcfm_nn_params *p, const char *prefix) {
  double worst = 0;
  const char *worst_name = "";
  for (int ti = 0; ti < p->count; ti++) {
    lcfm_nn_tensor *t = &p->tensors[ti];
    record *x = find(t->name);
    double rel = compare(t->name, p->grads + t->offset, x->data, t->numel);
    if (rel > worst) worst = rel, worst_name = t->name;
  }
  printf("  %s: %d parameter gradients, worst relative error %.2e (%s)\n", prefix, p->count, worst,
         worst_name);
  return worst;
}

static void test_causal(void) {
  record *cfgr = find("causal.config");
  lcfm_causal_encoder_config cfg = lcfm_causal_encoder_defaults();
  cfg.d = (int)cfgr->data[0], cfg.heads = (int)cfgr->data[1], cfg.ff = (int)cfgr->data[2];
  cfg.blocks = (int)cfgr->data[3], cfg.kernel = (int)cfgr->data[4], cfg.latent = (int)cfgr->data[5];
  cfg.T = (int)cfgr->data[6], cfg.max_batch = (int)cfgr->data[7];
  EXPECT(cfg.d == 64 && cfg.heads == 4 && cfg.ff == 128 && cfg.blocks == 4 && cfg.latent == 20,
         "fixture is not the paper's encoder configuration");
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  lcfm_causal_encoder e;
  lcfm_causal_encoder_init(&e, &cfg, &p, "causal");
  lcfm_nn_params_alloc(&p);
  fill_from_fixture(&p, "causal");
  lcfm_causal_encoder_alloc(&e);
  int B = cfg.max_batch;
  lcfm_nn_series x = {find("causal.times")->data, find("causal.values")->data,
                      find("causal.mask")->data, NULL, B};
  const float *z = lcfm_causal_encoder_forward(&e, &p, &x, 1, 1, 0);
  double rz = compare("causal.z", z, find("causal.z")->data, (size_t)B * cfg.latent);
  printf("  causal encoder output z [%d, %d]: relative error %.2e\n", B, cfg.latent, rz);
  lcfm_nn_params_zero_grad(&p);
  lcfm_causal_encoder_backward(&e, &p, find("causal.dz")->data, 1);
  compare_grads(&p, "causal encoder");
  lcfm_causal_encoder_free(&e);
  lcfm_nn_params_free(&p);
}

static void test_astromer(void) {
  record *cfgr = find("astromer.config");
  lcfm_astromer_config cfg = lcfm_astromer_defaults();
  cfg.d = (int)cfgr->data[0], cfg.heads = (int)cfgr->data[1], cfg.ff = (int)cfgr->data[2];
  cfg.blocks = (int)cfgr->data[3], cfg.residual = (int)cfgr->data[4], cfg.T = (int)cfgr->data[5];
  cfg.max_batch = (int)cfgr->data[6];
  cfg.act = LCFM_ACT_TANH;
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  lcfm_astromer e;
  lcfm_astromer_init(&e, &cfg, &p, "astromer");
  lcfm_nn_params_alloc(&p);
  fill_from_fixture(&p, "astromer");
  lcfm_astromer_alloc(&e);
  int B = cfg.max_batch;
  lcfm_nn_series x = {find("astromer.times")->data, find("astromer.values")->data,
                      find("astromer.valid")->data, find("astromer.replace")->data, B};
  const float *y = lcfm_astromer_forward(&e, &p, &x, 1, 1, 0);
  double ry = compare("astromer.pred", y, find("astromer.pred")->data, (size_t)B * cfg.T);
  printf("  astromer encoder output [%d, %d]: relative error %.2e\n", B, cfg.T, ry);
  lcfm_nn_params_zero_grad(&p);
  lcfm_astromer_backward(&e, &p, find("astromer.dpred")->data, 1);
  compare_grads(&p, "astromer encoder");
  lcfm_astromer_free(&e);
  lcfm_nn_params_free(&p);
}

/* One Astromer 2 block, its head and the pretraining loss (error weights, weighted RMSE over the
 * probed points): the weights, prediction, loss and the gradient of the loss for every tensor. */
static void test_astromer_objective(const char *prefix) {
  char key[96];
#define REC(what) (snprintf(key, sizeof key, "%s.%s", prefix, what), find(key))
  record *cfgr = REC("config");
  lcfm_astromer_config cfg = lcfm_astromer_defaults();
  cfg.d = (int)cfgr->data[0], cfg.heads = (int)cfgr->data[1], cfg.ff = (int)cfgr->data[2];
  cfg.blocks = (int)cfgr->data[3], cfg.residual = (int)cfgr->data[4], cfg.T = (int)cfgr->data[5];
  cfg.max_batch = (int)cfgr->data[6];
  int B = cfg.max_batch, T = cfg.T;
  lcfm_nn_params p;
  lcfm_nn_params_init(&p);
  lcfm_astromer e;
  lcfm_astromer_init(&e, &cfg, &p, prefix);
  lcfm_nn_params_alloc(&p);
  fill_from_fixture(&p, prefix);
  lcfm_astromer_alloc(&e);
  float *weight = lcfm_malloc((size_t)B * T * sizeof *weight),
        *dpred = lcfm_calloc((size_t)B * T, sizeof *dpred);
  lcfm_astromer_weights(weight, REC("err")->data, REC("valid")->data, B, T);
  snprintf(key, sizeof key, "%s.weight", prefix);
  compare(key, weight, find(key)->data, (size_t)B * T);
  lcfm_nn_series x = {REC("times")->data, REC("values")->data, REC("valid")->data,
                      REC("replace")->data, B};
  const float *y = lcfm_astromer_forward(&e, &p, &x, 1, 1, 0);
  snprintf(key, sizeof key, "%s.pred", prefix);
  double ry = compare(key, y, find(key)->data, (size_t)B * T);
  lcfm_nn_params_zero_grad(&p);
  float loss = (float)lcfm_loss_astromer_rmse(dpred, y, REC("target")->data, weight,
                                              REC("probed")->data, B, T, 1.0f);
  snprintf(key, sizeof key, "%s.loss", prefix);
  double rl = compare(key, &loss, find(key)->data, 1);
  printf("  %s (d %d, residual %d): prediction %.2e, loss %.6f relative error %.2e\n", prefix,
         cfg.d, cfg.residual, ry, (double)loss, rl);
  lcfm_astromer_backward(&e, &p, dpred, 1);
  compare_grads(&p, prefix);
#undef REC
  free(weight), free(dpred);
  lcfm_astromer_free(&e);
  lcfm_nn_params_free(&p);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  lcfm_nn_set_threads(2);
  load(LCFM_NN_FIXTURE);
  test_causal();
  test_astromer();
  test_astromer_objective("astromer2");
  test_astromer_objective("astromer2r");
  for (int r = 0; r < nrecs; r++) free(recs[r].data);
  free(recs);
  return lcfm_test_finish("test_nn_reference");
}
