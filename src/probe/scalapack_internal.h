/* scalapack_internal.h: the BLACS, PBLAS and ScaLAPACK entry points lcfm calls (not a public
 * header). Debian's scalapack-openmpi ships no C header: the C BLACS interface (Cblacs_*) and
 * the PBLAS (pd*_ written in C) are declared as they are defined; the ScaLAPACK drivers are
 * Fortran, so every argument is a pointer and each CHARACTER argument adds a hidden length
 * after the others (gfortran's convention). */
#ifndef LCFM_SCALAPACK_INTERNAL_H
#define LCFM_SCALAPACK_INTERNAL_H

#include <mpi.h>
#include <stddef.h>

#include "lcfm/scalapack.h"

/* Array descriptor entries (ScaLAPACK's DLEN_ = 9). */
enum { LCFM_DESC_LEN = 9 };

int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);

int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc,
               const int *context, const int *lld, int *info);

void pdgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a, const int *ia, const int *ja,
             const int *desca, double *b, const int *ib, const int *jb, const int *descb, double *work,
             const int *lwork, int *info, size_t trans_len);
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha, const double *a,
             const int *ia, const int *ja, const int *desca, const double *beta, double *c, const int *ic,
             const int *jc, const int *descc);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz, double *work,
              const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

/* A descriptor of an m x n matrix in mb x nb blocks on grid g (process row 0 first), with the
 * local leading dimension its block-cyclic row count needs (at least 1). Returns that count. */
int lcfm_grid_descriptor(const lcfm_grid *g, int desc[LCFM_DESC_LEN], int m, int n, int mb, int nb);

#endif
