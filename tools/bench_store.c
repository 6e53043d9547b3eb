/* bench_store.c: write and read bandwidth of the light-curve store (collective parallel HDF5).
 *   mpirun -np R bench_store PATH GIB [objects_per_batch [deflate_level [create|append [read]]]]
 * Every rank writes GIB/R of objects of 100 points (16 bytes a point plus 36 bytes an object),
 * from buffers filled before the clock starts: regular times, and values that look like a light
 * curve (a sinusoid plus Gaussian noise of 1e-3, so compression meets noise as in real data). The
 * time covers create (or append: the copy of PATH included), every collective batch write,
 * close (with the rename) and an fsync of the file, so it is comparable with
 * `dd conv=fdatasync`. deflate_level 0 writes uncompressed, 1-9 shuffle + deflate. With "read",
 * the store is then streamed back whole (lcfm_store_cursor, blocks of 10,000 objects; the page
 * cache is warm). Prints bytes (uncompressed), seconds, MB/s and the file's size from rank 0. */
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
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
  LCFM_CHECK(
      argc >= 3,
      "usage: bench_store PATH GIB [objects_per_batch [deflate_level [create|append [read]]]]");
  const char *path = argv[1];
  double gib = atof(argv[2]);
  int64_t batch_objects = argc > 3 ? atoll(argv[3]) : 10000, length = 100;
  lcfm_store_options options = {.mode = argc > 5 && !strcmp(argv[5], "append") ? LCFM_STORE_APPEND
                                                                               : LCFM_STORE_CREATE,
                                .deflate_level = argc > 4 ? atoi(argv[4]) : 0};
  int read_back = argc > 6 && !strcmp(argv[6], "read");
  double bytes_per_object = (double)length * 16.0 + 36.0;
  int64_t objects = (int64_t)(gib * 1073741824.0 / bytes_per_object / ranks);
  int64_t batches = (objects + batch_objects - 1) / batch_objects;

  lcfm_object_batch b;
  lcfm_batch_alloc(&b, batch_objects, batch_objects * length);
  uint64_t state = 0x9e3779b97f4a7c15ull + (uint64_t)rank;
  for (int64_t i = 0; i < batch_objects * length; i++) {
    /* Box-Muller on a xorshift stream: noise as incompressible as a real light curve's. */
    double u[2];
    for (int k = 0; k < 2; k++) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      u[k] = ((double)(state >> 11) + 0.5) / 9007199254740992.0;
    }
    double noise = sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
    b.time[i] = 1325.0 + (double)(i % length) * (2.0 / 1440.0); /* 2-min cadence in days */
    b.value[i] = (float)(0.01 * sin((double)i * 0.05) + 1e-3 * noise), b.error[i] = 1e-3f;
  }
  lcfm_provenance prov;
  lcfm_provenance_init(&prov, MPI_COMM_WORLD, "bench_store", NULL, argc, argv);
  MPI_Barrier(MPI_COMM_WORLD);
  double start = lcfm_wtime();
  lcfm_store_writer *w =
      lcfm_store_begin(MPI_COMM_WORLD, path, &prov, objects, objects * length, &options);
  lcfm_instrument instrument = {.survey = LCFM_SURVEY_TESS,
                                .season = 1,
                                .unit = 1,
                                .subunit = 1,
                                .band = -1,
                                .time_zero = 2457000.0,
                                .name = "bench",
                                .time_scale = "TDB",
                                .time_reference = "BJD"};
  lcfm_store_write_instruments(w, &instrument, 1);
  for (int64_t k = 0; k < batches; k++) {
    int64_t count =
        objects - k * batch_objects < batch_objects ? objects - k * batch_objects : batch_objects;
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
  struct stat st;
  double file_bytes = stat(path, &st) == 0 ? (double)st.st_size : 0;
  double read_seconds = 0, read_bytes = 0;
  if (read_back) { /* the whole store, every rank its shard */
    char why[1024];
    lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
    LCFM_CHECK(s, "%s", why);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = lcfm_wtime();
    int64_t first, count, points = 0;
    lcfm_store_shard(lcfm_store_object_count(s), rank, ranks, &first, &count);
    lcfm_store_cursor c;
    lcfm_store_cursor_begin(&c, s, first, count, 10000);
    while (lcfm_store_cursor_next(&c)) points += c.batch.point_count;
    lcfm_store_cursor_end(&c);
    MPI_Barrier(MPI_COMM_WORLD);
    read_seconds = lcfm_wtime() - t0;
    read_bytes = (double)lcfm_store_object_count(s) * bytes_per_object;
    lcfm_store_free(s);
    (void)points;
  }
  if (rank == 0) {
    printf(
        "store %s, deflate %d: %d ranks, %.3f GB in %.2f s = %.0f MB/s (peak memory of rank 0 %.0f MiB); "
        "file %.3f GB",
        options.mode == LCFM_STORE_APPEND ? "append" : "write", options.deflate_level, ranks,
        total / 1e9, seconds, total / 1e6 / seconds, (double)lcfm_peak_rss_bytes() / 1048576.0,
        file_bytes / 1e9);
    if (read_back)
      printf("; read %.3f GB in %.2f s = %.0f MB/s", read_bytes / 1e9, read_seconds,
             read_bytes / 1e6 / read_seconds);
    printf("\n");
  }
  lcfm_batch_free(&b);
  MPI_Finalize();
  return 0;
}
