/* model_kind.h: the model kinds lcfm knows ([model] kind), one table entry each: its name and
 * what `lcfm train`, `lcfm embed` and the job checks do with it.
 *
 * The table (src/models/model_kind.c) is the one place that knows every kind: the verbs look the
 * job's kind up and call its operations, and nothing else branches on the kind. A new model is
 * one entry here plus its own code (its configuration, its training run on trainer.h's shared
 * loop, its embedding on embed.h's shared stream).
 *   causal, baseline   models.h (one model, one or two latents): trainer.h, embed.h
 *   astromer2          astromer.h: astromer_train.h, embed.h
 */
#ifndef LCFM_MODEL_KIND_H
#define LCFM_MODEL_KIND_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

/* A verb's work for one kind: collective; returns the process exit code. */
typedef int (*lcfm_model_verb)(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

typedef struct {
  const char *name; /* the value of [model] kind */
  /* The [model] checks (each problem reported naming its key); returns the number of problems. */
  int (*config_problems)(const lcfm_job *job);
  lcfm_model_verb train; /* `lcfm train` */
  lcfm_model_verb embed; /* `lcfm embed` */
  int embed_appends;     /* 1 when `lcfm embed` can extend embeddings ([embed] mode = append) */
} lcfm_model_kind;

/* The entry of the job's [model] kind (the key's choices, checked when the job loads, are the
 * table's names). */
const lcfm_model_kind *lcfm_model_kind_of(const lcfm_job *job);
/* The [model] checks of the job's kind; returns the number of problems. Verbs call it before
 * any work. */
int lcfm_model_config_problems(const lcfm_job *job);

#endif
