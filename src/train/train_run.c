/* train_run.c: `lcfm train`: the machine report, then the training run of the job's model kind
 * (see trainer.h, model_kind.h). */
#include "lcfm/log.h"
#include "lcfm/machine.h"
#include "lcfm/model_kind.h"
#include "lcfm/trainer.h"

int lcfm_train_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov) {
  lcfm_log_machine((int)lcfm_job_settings(job)->train.threads);
  lcfm_check_node_placement(comm, (int)lcfm_job_settings(job)->train.threads);
  const lcfm_model_kind *kind = lcfm_model_kind_of(job);
  if (!kind) return lcfm_model_config_problems(job), LCFM_EXIT_USAGE; /* the verb checked it */
  return kind->train(comm, job, prov);
}
