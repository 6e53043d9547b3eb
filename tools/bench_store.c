/* bench_store.c: write bandwidth of the light-curve store (collective parallel HDF5).
 *   mpirun -np R bench_store PATH GIB [objects_per_batch]
 * Every rank writes GIB/R of objects of 100 points (16 bytes a point plus 36 bytes an object),
 * from buffers filled before the clock starts. The time covers create, every collective batch
 * write, close (with the rename) and an fsync of the file, so it is comparable with
 * `dd conv=fdatasync`. Prints bytes, seconds and MB/s from rank 0. */
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/log.h"
#include "lcfm/runtime.h"
#include "lcfm/store.h"

int main(int argc, char **argv) {
  lcfm_runtime_defaults();
  MPI_Init(&argc, &argv);
  lcfm_error_init();
  lcfm_log_init(MPI_COMM_WORLD);
  int rank, ranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  LCFM_CHECK(argc >= 3, "usage: bench_store PATH GIB [objects_per_batch]");
  const char *path = argv[1];
  double gib = atof(argv[2]);
  int64_t batch_objects = argc > 3 ? atoll(argv[3]) : 10000, length = 100;
  double bytes_per_object = (double)length * 16.0 + 36.0;
  int64_t objects = (int64_t)(gib * 1073741824.0 / bytes_per_object / ranks);
  int64_t batches = (objects + batch_objects - 1) / batch_objects;

  lcfm_object_batch b;
  lcfm_batch_alloc(&b, batch_objects, batch_objects * length);
  for (int64_t i = 0; i < batch_objects * length; i++) {
    b.time[i] = (double)i, b.value[i] = (float)(i % 1000) * 1e-3f, b.error[i] = 0.03f;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "bench_store", NULL, argc, argv);
  MPI_Barrier(MPI_COMM_WORLD);
  double start = lcfm_wtime();
  lcfm_store_writer *w = lcfm_store_create(MPI_COMM_WORLD, path, &prov, objects, objects * length);
  for (int64_t k = 0; k < batches; k++) {
    int64_t count = objects - k * batch_objects < batch_objects ? objects - k * batch_objects : batch_objects;
    for (int64_t i = 0; i < count; i++) {
      b.id[i] = b.source[i] = k * batch_objects + i;
      b.instrument[i] = b.field[i] = 0, b.label[i] = -1, b.length[i] = (int32_t)length;
    }
    b.count = count;
    lcfm_store_write_batch(w, &b);
  }
  lcfm_store_close(w);
  if (rank == 0) {
    int fd = open(path, O_RDONLY);
    LCFM_CHECK(fd >= 0 && fsync(fd) == 0, "fsync %s", path);
    close(fd);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double seconds = lcfm_wtime() - start;
  double total = (double)objects * ranks * bytes_per_object;
  if (rank == 0)
    printf("store write: %d ranks, %.3f GB in %.2f s = %.0f MB/s (peak memory of rank 0 %.0f MiB)\n", ranks,
           total / 1e9, seconds, total / 1e6 / seconds, (double)lcfm_peak_rss_bytes() / 1048576.0);
  lcfm_batch_free(&b);
  MPI_Finalize();
  return 0;
}
