/* mlp.c: Linear (ReLU Linear)* with saved activations (see models.h). */
#include <stdio.h>
#include <string.h>

#include "lcfm/error.h"
#include "lcfm/models.h"

void lcfm_mlp_init(lcfm_mlp *m, int layers, const int *dims, int max_rows, lcfm_nn_params *p,
                   const char *prefix) {
  LCFM_CHECK(layers >= 1 && layers <= LCFM_MLP_MAX_LAYERS, "an MLP has 1 to %d layers",
             LCFM_MLP_MAX_LAYERS);
  memset(m, 0, sizeof *m);
  m->layers = layers;
  m->max_rows = max_rows;
  memcpy(m->dims, dims, (size_t)(layers + 1) * sizeof *dims);
  for (int l = 0; l < layers; l++) {
    m->lin[l].w =
        lcfm_nn_params_add2(p, LCFM_INIT_FANIN, dims[l + 1], dims[l], "%s.fc%d.w", prefix, l);
    m->lin[l].b = lcfm_nn_params_add2(p, LCFM_INIT_ZERO, dims[l + 1], 0, "%s.fc%d.b", prefix, l);
  }
}

void lcfm_mlp_layout(lcfm_mlp *m, lcfm_nn_arena *arena) {
  int widest = 0;
  for (int l = 0; l <= m->layers; l++) widest = m->dims[l] > widest ? m->dims[l] : widest;
  for (int l = 0; l < m->layers; l++) {
    m->pre[l] = lcfm_nn_arena_take(arena, (size_t)m->max_rows * (size_t)m->dims[l + 1]);
    m->act[l] = l + 1 < m->layers
                    ? lcfm_nn_arena_take(arena, (size_t)m->max_rows * (size_t)m->dims[l + 1])
                    : m->pre[l];
  }
  m->grad[0] = lcfm_nn_arena_take(arena, (size_t)m->max_rows * (size_t)widest);
  m->grad[1] = lcfm_nn_arena_take(arena, (size_t)m->max_rows * (size_t)widest);
}

const float *lcfm_mlp_forward(lcfm_mlp *m, const lcfm_nn_params *p, const float *in, int rows) {
  LCFM_CHECK(rows <= m->max_rows, "MLP given %d rows, sized for %d", rows, m->max_rows);
  m->input = in;
  const float *x = in;
  for (int l = 0; l < m->layers; l++) {
    lcfm_linear_forward(m->pre[l], x, p->params + m->lin[l].w, p->params + m->lin[l].b, rows,
                        m->dims[l], m->dims[l + 1]);
    if (l + 1 < m->layers)
      lcfm_relu_forward(m->act[l], m->pre[l], (size_t)rows * (size_t)m->dims[l + 1]);
    x = m->act[l];
  }
  return x;
}

void lcfm_mlp_backward(lcfm_mlp *m, lcfm_nn_params *p, float *dinp, const float *dout, int rows) {
  const float *g = dout; /* gradient with respect to the output of layer l (after its ReLU) */
  int which = 0;
  for (int l = m->layers - 1; l >= 0; l--) {
    const float *dpre = g;
    if (l + 1 < m->layers) { /* through the ReLU that follows layer l */
      float *buf = m->grad[which];
      size_t n = (size_t)rows * (size_t)m->dims[l + 1];
      lcfm_nn_zero(buf, n);
      lcfm_relu_backward(buf, g, m->pre[l], n);
      dpre = buf;
      which ^= 1;
    }
    const float *x = l ? m->act[l - 1] : m->input;
    float *dx = NULL;
    if (l > 0) {
      dx = m->grad[which];
      lcfm_nn_zero(dx, (size_t)rows * (size_t)m->dims[l]);
    } else {
      dx = dinp;
    }
    lcfm_linear_backward(dx, p->grads + m->lin[l].w, p->grads + m->lin[l].b, dpre, x,
                         p->params + m->lin[l].w, rows, m->dims[l], m->dims[l + 1]);
    g = dx;
    if (l > 0) which ^= 1;
  }
}
