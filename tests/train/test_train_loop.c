/* test_train_loop.c: the shared training loop's report of a non-finite loss tells the truth about
 * checkpoints: "no checkpoint was written" when none exists for the run (it used to claim that
 * "the last good checkpoint is kept"), and the checkpoint's name and step when one was written,
 * which is then left as it was. The model is a stand-in: one tensor, a loss that turns NaN at a
 * chosen step. Run on 2 ranks: every rank sees the same global loss and stops at the same step. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lcfm_test.h"
#include "lcfm/log.h"
#include "lcfm/trainer.h"

typedef struct {
  lcfm_nn_params params;
  int64_t nan_at;
} stand_in;

static lcfm_train_loss stand_in_step(void *model, int64_t step) {
  stand_in *m = model;
  memset(m->params.grads, 0, m->params.total * sizeof(float));
  m->params.grads[0] = 0.1f;
  lcfm_train_loss l = {.total = step >= m->nan_at ? NAN : 1.0 / (double)(step + 1)};
  snprintf(l.terms, sizeof l.terms, "stand-in");
  return l;
}

static lcfm_train_loss stand_in_validate(void *model) {
  (void)model;
  lcfm_train_loss l = {.total = 1.0};
  snprintf(l.terms, sizeof l.terms, "stand-in");
  return l;
}

/* Runs the loop with this rank's stdout in a file; returns the exit code and the log text. */
static int run(const char *checkpoint, int64_t steps, int64_t nan_at, char *log, size_t log_len) {
  stand_in m = {.nan_at = nan_at};
  lcfm_nn_params_init(&m.params);
  lcfm_nn_params_add2(&m.params, LCFM_INIT_ZERO, 4, 3, "w");
  lcfm_nn_params_alloc(&m.params);
  lcfm_train_settings t = {.checkpoint = checkpoint,
                           .steps = steps,
                           .validation_every = 1000,
                           .patience = 10,
                           .log_every = 1000,
                           .lr = 1e-3,
                           .threads = 1,
                           .resume = 1};
  snprintf(t.best_path, sizeof t.best_path, "%s.best", checkpoint);
  lcfm_train_hooks h = {.model = &m,
                        .params = &m.params,
                        .batch = 1,
                        .unit = "items",
                        .step = stand_in_step,
                        .validate = stand_in_validate};
  lcfm_adam opt = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  lcfm_train_state state = {.best_step = -1};
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "test", NULL, 0, NULL);
  fflush(stdout);
  int saved = dup(1);
  char log_path[64];
  snprintf(log_path, sizeof log_path, "loop.%d.log", lcfm_log_rank());
  FILE *f = freopen(log_path, "w", stdout);
  EXPECT(f != NULL, "cannot redirect stdout");
  int code = lcfm_train_loop(MPI_COMM_WORLD, &t, &h, &opt, &state, "stand-in", &prov);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  log[0] = '\0';
  FILE *in = fopen(log_path, "r");
  if (in) {
    size_t n = fread(log, 1, log_len - 1, in);
    log[n] = '\0';
    fclose(in);
  }
  lcfm_nn_params_free(&m.params);
  return code;
}

static size_t read_file(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, len, f) : 0;
  if (f) fclose(f);
  return n;
}

int main(int argc, char **argv) {
  int rank = lcfm_test_start(&argc, &argv);
  static char log[16384];
  if (rank == 0) unlink("loop_model.h5"), unlink("loop_model.h5.best");
  MPI_Barrier(MPI_COMM_WORLD);

  int code = run("loop_model.h5", 10, 3, log, sizeof log);
  EXPECT(code == LCFM_EXIT_RUNTIME, "NaN at step 3 without a checkpoint: exit %d", code);
  EXPECT(access("loop_model.h5", F_OK) != 0, "a checkpoint appeared");
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    EXPECT(strstr(log, "non-finite loss at step 3") && strstr(log, "no checkpoint was written"),
           "log: %s", log);
    EXPECT(!strstr(log, "last good checkpoint"), "claims a checkpoint that does not exist: %s",
           log);
  }

  code = run("loop_model.h5", 5, 1000, log, sizeof log);
  EXPECT(code == LCFM_EXIT_OK, "5 good steps: exit %d", code);
  MPI_Barrier(MPI_COMM_WORLD); /* rank 0 wrote the checkpoint */
  static char first[1 << 20], second[1 << 20];
  size_t first_len = read_file("loop_model.h5", first, sizeof first);

  code = run("loop_model.h5", 10, 7, log, sizeof log);
  EXPECT(code == LCFM_EXIT_RUNTIME, "NaN at step 7 after resuming at 5: exit %d", code);
  if (rank == 0)
    EXPECT(strstr(log, "resumed from loop_model.h5 at step 5") &&
               strstr(log, "the last good checkpoint loop_model.h5 (step 5) is kept"),
           "log: %s", log);
  size_t second_len = read_file("loop_model.h5", second, sizeof second);
  EXPECT(first_len > 0 && first_len == second_len && !memcmp(first, second, first_len),
         "the checkpoint changed");
  return lcfm_test_finish("test_train_loop");
}
