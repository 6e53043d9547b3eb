/* compare_params.h: what the data-parallel tests of tests/train share: the tensor table of the
 * last trained model (its names, for messages) and the worst difference between the parameters
 * of two runs. */
#ifndef LCFM_TEST_COMPARE_PARAMS_H
#define LCFM_TEST_COMPARE_PARAMS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/nn.h"

/* Keeps a copy of `params`' tensor table in *table (freeing the one it held), so that the names
 * outlive the model. Only the table is valid afterwards, not the buffers. */
static inline void keep_tensor_table(lcfm_nn_params *table, const lcfm_nn_params *params) {
  free(table->tensors);
  *table = *params;
  table->tensors = lcfm_malloc((size_t)params->count * sizeof *table->tensors);
  memcpy(table->tensors, params->tensors, (size_t)params->count * sizeof *table->tensors);
}

/* The largest |a - b| over the tensors of `table`; *tensor names the one holding it ("" if none
 * differs). */
static inline double worst_param_difference(const lcfm_nn_params *table, const float *a,
                                            const float *b, const char **tensor) {
  double worst = 0;
  *tensor = "";
  for (int t = 0; t < table->count; t++)
    for (size_t i = table->tensors[t].offset;
         i < table->tensors[t].offset + table->tensors[t].numel; i++) {
      double diff = fabs((double)a[i] - b[i]);
      if (diff > worst) worst = diff, *tensor = table->tensors[t].name;
    }
  return worst;
}

#endif
