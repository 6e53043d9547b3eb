/* lapack_internal.h: the LAPACK routines the streamed least squares and PCA call (not a public
 * header). OpenBLAS (Debian's libopenblas) carries LAPACK but Debian ships no LAPACKE header for
 * it: the Fortran routines are declared as they are defined, every argument a pointer and each
 * CHARACTER argument adding a hidden length after the others (gfortran's convention). */
#ifndef LCFM_LAPACK_INTERNAL_H
#define LCFM_LAPACK_INTERNAL_H

#include <stddef.h>

/* QR of the triangle A stacked on the (l-trapezoidal) block B: A <- R, B <- reflectors V. */
void dtpqrt_(const int *m, const int *n, const int *l, const int *nb, double *a, const int *lda,
             double *b, const int *ldb, double *t, const int *ldt, double *work, int *info);
/* Applies those reflectors (Q^T with trans "T") to the stacked pair [A; B]. */
void dtpmqrt_(const char *side, const char *trans, const int *m, const int *n, const int *k,
              const int *l, const int *nb, const double *v, const int *ldv, const double *t,
              const int *ldt, double *a, const int *lda, double *b, const int *ldb, double *work,
              int *info, size_t side_len, size_t trans_len);
/* Solves a triangular system. */
void dtrtrs_(const char *uplo, const char *trans, const char *diag, const int *n, const int *nrhs,
             const double *a, const int *lda, double *b, const int *ldb, int *info, size_t uplo_len,
             size_t trans_len, size_t diag_len);
/* Eigenvalues (ascending) and eigenvectors of a symmetric matrix, divide and conquer. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

#endif
