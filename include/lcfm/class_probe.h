/* class_probe.h: `lcfm probe` with [probe] task = classification: Astromer 2's few-shot
 * classification protocol on a labelled store (the paper's section on Alcock and ATLAS; here the
 * labelled simulator, sim.h), comparing the frozen encoder's embeddings with raw windows.
 *
 * Classifier (lcfm_classifier_*): the input x [layers, D] of an object is reduced to
 *   z = sum_l softmax(gamma)_l x_l            (gamma [layers] trainable, zero at start; layers = 1: z = x)
 * then ReLU(Linear(D -> 1024)), ReLU(Linear(1024 -> 512)), ReLU(Linear(512 -> 256)), layer norm,
 * Linear(256 -> classes), trained with softmax cross-entropy and Adam (lr 1e-3, 0.9, 0.999) on
 * keyed mini-batches for a fixed number of steps. Features are standardised with the training
 * rows' statistics. The encoder is frozen: it only produced x (astromer.h's /layers: the
 * time-averaged input embedding and every block's output).
 *
 * Protocol (lcfm_class_probe_run): test objects are those whose source is held out by the same
 * rule as pretraining (uniform(seed, LCFM_STREAM_TRAIN_SPLIT, source) < test_fraction; with the
 * same [job] seed and test_fraction <= [train] validation_fraction they were never pretrained on),
 * at most test_objects of them, ONE shared test set for every scenario. For each n in
 * samples_per_class and each of `folds` keyed shuffles of the other objects, the first n objects
 * of every class train a classifier on each input: "raw" (the first raw_points observations of
 * the light curve, zero-meaned, magnitudes then times) and "astromer" (/layers). Macro F1 on the
 * test set, mean and standard deviation over folds, and the learned softmax(gamma).
 * Probe store (schema "lcfm-probe", attribute task = "classification"), with provenance:
 *   /classification/inputs string[32] [I], /classification/samples_per_class int64 [S],
 *   /classification/f1 float64 [I, S * folds], f1_mean, f1_std float64 [I, S] (NaN where a class
 *   has fewer than n training objects), /classification/gamma float64 [S * folds, layers]
 *   (softmax weights of the astromer input), /objects/id int64, label int32, test uint8 [N].
 */
#ifndef LCFM_CLASS_PROBE_H
#define LCFM_CLASS_PROBE_H

#include <mpi.h>
#include <stdint.h>

#include "lcfm/job.h"
#include "lcfm/provenance.h"

typedef struct {
  int layers, dim; /* input [layers, dim] per row */
  int classes;
  int hidden[3]; /* 1024, 512, 256 in the paper */
  int steps, batch;
  float lr;
} lcfm_classifier_config;

/* The weighted sum of layers: z [rows, dim] = sum_l a_l x[rows, l, :], a = softmax(gamma) [layers]
 * (saved for backward). Backward: dgamma [layers] += d loss / d gamma for dz (x is data). */
void lcfm_weighted_layers_forward(float *z, float *a, const float *x, const float *gamma, int rows,
                                  int layers, int dim);
void lcfm_weighted_layers_backward(float *dgamma, const float *dz, const float *x, const float *a,
                                   int rows, int layers, int dim);

/* Trains on x_train [n, layers * dim] with labels y_train [n] in 0..classes-1, then predicts
 * pred [m] for x_test [m, layers * dim]; gamma (may be NULL) receives softmax(gamma) [layers].
 * Deterministic for a seed; serial. */
void lcfm_classifier_fit_predict(const lcfm_classifier_config *c, const float *x_train,
                                 const int *y_train, int n, const float *x_test, int m, int *pred,
                                 double *gamma, uint64_t seed);

/* Macro F1: the mean over classes 0..classes-1 that occur in truth or pred of 2TP / (2TP + FP + FN). */
double lcfm_macro_f1(const int *pred, const int *truth, int64_t m, int classes);

/* Checks the classification keys (samples_per_class); returns the number of problems. */
int lcfm_class_probe_settings_check(const lcfm_job *job);
/* Collective; returns the process exit code. */
int lcfm_class_probe_run(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov);

#endif
