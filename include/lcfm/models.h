/* models.h: the causal paper's dual-encoder model and its single-latent baseline, built on the
 * engine of nn.h / nn_models.h.
 *
 * Causal (kind = causal): two encoders of the same architecture and separate weights read the
 * same light curve: z_star = E_star(x), z_instr = E_instr(x), each [latent].
 *   projection heads   q_star = H_star(z_star), q_instr = H_instr(z_instr)   (MLPs, training only)
 *   decoder            x_hat = Linear(dec -> T)( D_star(z_star) * D_instr(z_instr) )  (element-wise)
 *   loss               w_recon MSE(x_hat, x; mask) + w_star InfoNCE(q_star; same source)
 *                                                  + w_instr InfoNCE(q_instr; same instrument)
 *                                                  + w_indep xcorr(z_star, z_instr)   (default 0)
 *   xcorr is the independence penalty of nn.h (mean squared batch cross-correlation of the two
 *   latents over the global batch): beyond the paper, its stated future work.
 * Baseline (kind = baseline): one encoder, z = E(x), x_hat = Linear(D(z)), loss = w_recon MSE +
 * w_star InfoNCE(H(z); same source).
 * Encoders: `conformer` (nn_models.h: embedding of (time, value), Conformer blocks, LSTM, masked
 * mean pooling, linear to the latent) or `mlp` (the window's masked values [T] through
 * Linear-ReLU-Linear-ReLU-Linear to the latent; the paper notes MLPs give similar results).
 * Every MLP here is Linear layers with ReLU between them (none after the last).
 *
 * Data parallel step (lcfm_causal_step): each rank holds `rows` sequences (slot-major: anchor,
 * same-star, same-instrument of each of its triplets). The projections and their keys are
 * all-gathered so InfoNCE sees the global batch, and each rank computes only the similarity rows
 * of its own samples against it (work and memory O(rows x global batch), no limit on the rank
 * count): the loss is summed and the gradient reduce-scattered over ranks, each rank keeping its
 * rows (lcfm_loss_infonce_rows in nn.h); the reconstruction MSE is normalised by the
 * global count of valid points. The gradients a rank accumulates are its share of the global
 * loss's gradient, so summing them over ranks (one MPI_Allreduce of the flat buffer) gives the
 * 1-rank gradient of the same global batch up to float rounding.
 */
#ifndef LCFM_MODELS_H
#define LCFM_MODELS_H

#include <mpi.h>

#include "lcfm/job.h"
#include "lcfm/nn.h"
#include "lcfm/nn_models.h"

/* ---- a plain MLP: Linear (ReLU Linear)* ---- */
#define LCFM_MLP_MAX_LAYERS 4
typedef struct {
  int layers, dims[LCFM_MLP_MAX_LAYERS + 1], max_rows;
  lcfm_nn_lin lin[LCFM_MLP_MAX_LAYERS];
  float *pre[LCFM_MLP_MAX_LAYERS], *act[LCFM_MLP_MAX_LAYERS]; /* [rows, dims[l+1]] */
  float *grad[2];                                             /* backward scratch, widest layer */
  const float *input;
} lcfm_mlp;

/* dims[0] inputs -> dims[1] ... -> dims[layers] outputs; tensors "prefix.fcL.w/b". */
void lcfm_mlp_init(lcfm_mlp *m, int layers, const int *dims, int max_rows, lcfm_nn_params *p,
                   const char *prefix);
void lcfm_mlp_layout(lcfm_mlp *m, lcfm_nn_arena *arena);
/* Returns the output [rows, dims[layers]] (inside m); keeps `in` for backward. */
const float *lcfm_mlp_forward(lcfm_mlp *m, const lcfm_nn_params *p, const float *in, int rows);
/* dinp [rows, dims[0]] += ...; may be NULL. Parameter gradients += into p. */
void lcfm_mlp_backward(lcfm_mlp *m, lcfm_nn_params *p, float *dinp, const float *dout, int rows);

/* ---- the causal model ---- */
typedef enum { LCFM_CAUSAL = 0, LCFM_BASELINE = 1 } lcfm_causal_kind;
typedef enum { LCFM_ENCODER_CONFORMER = 0, LCFM_ENCODER_MLP = 1 } lcfm_encoder_kind;

typedef struct {
  lcfm_causal_kind kind;
  lcfm_encoder_kind encoder;
  int T, d, heads, ff, blocks, kernel, latent, mlp_hidden, proj_hidden, proj_dim, decoder_hidden;
  float dropout, tau, w_recon, w_star, w_instr, w_indep;
  int max_rows; /* sequences per rank per step */
} lcfm_causal_config;

/* Reads [model]; returns the number of problems (reported naming the key). */
int lcfm_causal_config_from_job(lcfm_causal_config *c, const lcfm_job *job);
/* The model's settings as text, for checkpoint signatures; caller frees. */
char *lcfm_causal_settings(const lcfm_causal_config *c);

typedef struct {
  lcfm_causal_config cfg;
  lcfm_nn_params params;
  int encoders; /* 2 causal, 1 baseline */
  lcfm_causal_encoder conformer[2];
  lcfm_mlp mlp_encoder[2], projection[2], decoder[2];
  lcfm_nn_lin decoder_out;
  lcfm_nn_arena arena;
  const float *z[2];
  float *dz[2], *product, *dproduct, *branch_grad[2], *recon, *drecon, *masked_values;
  float *gathered, *dgathered; /* [global rows, proj_dim] */
  float *dq, *infonce_scratch; /* [rows, proj_dim]: this rank's rows of the InfoNCE gradient */
  int64_t *gathered_keys;
  int gather_ranks, *row_counts, *row_displs, *counts, *displs; /* [gather_ranks] each */
  double *xcorr_moments; /* [lcfm_xcorr_moments_size(latent, latent)] */
  int global_capacity;
} lcfm_causal_model;

typedef struct {
  double total, recon, star, instr, indep;
} lcfm_causal_loss;

/* Registers the tensors, allocates everything for cfg.max_rows sequences per rank and
 * `global_rows` in the gathered batch, and initialises the weights from `seed`. */
void lcfm_causal_init(lcfm_causal_model *m, const lcfm_causal_config *cfg, int global_rows,
                      uint64_t seed);
void lcfm_causal_free(lcfm_causal_model *m);

/* One rank's part of a batch: 3 rows per triplet, slot-major (anchor, same star, same instrument). */
typedef struct {
  int rows;
  float *times, *values, *mask; /* [rows, T] */
  int64_t *source, *instrument; /* [rows]: the InfoNCE keys */
} lcfm_batch_rows;

void lcfm_batch_rows_alloc(lcfm_batch_rows *b, int64_t triplets, int T);
void lcfm_batch_rows_free(lcfm_batch_rows *b);

/* Collective over comm: the b->rows sequences of b. Zeroes, then accumulates this rank's share of
 * the gradient; returns the global loss terms. */
lcfm_causal_loss lcfm_causal_step(lcfm_causal_model *m, MPI_Comm comm, const lcfm_batch_rows *b,
                                  int training, uint64_t seed, uint64_t step);

/* The latents of `rows` sequences without gradients: z[0] (z_star or z), z[1] (z_instr). */
void lcfm_causal_embed(lcfm_causal_model *m, const float *times, const float *values,
                       const float *mask, int rows, const float **z_star, const float **z_instr);

#endif
