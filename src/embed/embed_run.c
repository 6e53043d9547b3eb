/* embed_run.c: `lcfm embed`: the machine report, the [embed] mode check, then the embedding run of
 * the job's model kind (see embed.h, model_kind.h). */
#include <string.h>
#include <unistd.h>

#include "lcfm/embed.h"
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/model_kind.h"
#include "lcfm/nn.h"

/* [embed] mode: 0 create, 1 append, -1 (reported) when the job cannot run. */
static int embed_mode(const lcfm_job *job, const lcfm_model_kind *kind) {
  const char *output = lcfm_job_settings(job)->embed.output;
  int append = !strcmp(lcfm_job_settings(job)->embed.mode, "append"); /* or create */
  if (append && !kind->embed_appends) {
    lcfm_job_error(job, "embed", "mode",
                   "append is not available for [model] kind = %s yet: embed anew", kind->name);
    return -1;
  }
  if (append && access(output, F_OK) != 0) {
    lcfm_job_error(job, "embed", "output", "[embed] mode = append, but %s does not exist", output);
    return -1;
  }
  return append;
}

int lcfm_embed_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_log_machine((int)lcfm_job_settings(job)->train.threads);
  lcfm_nn_set_threads((int)lcfm_job_settings(job)->train.threads);
  const lcfm_model_kind *kind = lcfm_model_kind_of(job);
  if (!kind) return lcfm_model_config_problems(job), LCFM_EXIT_USAGE; /* the verb checked it */
  int rank, mode = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) mode = embed_mode(job, kind);
  LCFM_CHECK_MPI(MPI_Bcast(&mode, 1, MPI_INT, 0, comm));
  if (mode < 0) return LCFM_EXIT_USAGE;
  return kind->embed(comm, job, prov);
}
