/* signals.c: SIGTERM / SIGUSR1 -> a checkpoint at the next step boundary (see train.h). */
#include <signal.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/train.h"

static volatile sig_atomic_t signal_seen = 0;

static void remember_signal(int signal_number) { signal_seen = signal_number; }

void lcfm_signals_install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGUSR1, &action, NULL);
}

int lcfm_signals_pending(MPI_Comm comm) {
  int mine = signal_seen != 0, any = 0;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  return any;
}
