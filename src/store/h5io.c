/* h5io.c: collective HDF5 building blocks and the publish path (see h5io.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range, sync_file_range */
#endif
#include "lcfm/h5io.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lcfm/error.h"
#include "lcfm/outputs.h"

/* ---- files being written: their name and communicator ---- */

enum { MAX_OPEN = 16, NAME_MAX_LEN = 4096 };

typedef struct {
  char partial[NAME_MAX_LEN]; /* the name HDF5 knows the file by */
  MPI_Comm comm;
  /* Its writeback helper (start_writeback): this rank's descriptor of the file, -1 while none. */
  int writeback_fd;
  pthread_t writeback_thread;
  pthread_mutex_t lock; /* guards the two requests below */
  pthread_cond_t wake;
  int writeback_wanted, writeback_stop;
} open_file;

static open_file open_files[MAX_OPEN];

static open_file *remember(const char *partial, MPI_Comm comm) {
  for (int i = 0; i < MAX_OPEN; i++)
    if (!open_files[i].partial[0]) {
      snprintf(open_files[i].partial, NAME_MAX_LEN, "%s", partial);
      open_files[i].comm = comm;
      open_files[i].writeback_fd = -1;
      return &open_files[i];
    }
  LCFM_FATAL("internal: more than %d files written at once", MAX_OPEN);
}

static open_file *find_open(const char *partial) {
  for (int i = 0; i < MAX_OPEN; i++)
    if (open_files[i].partial[0] && !strcmp(open_files[i].partial, partial)) return &open_files[i];
  return NULL;
}

/* The file being written that holds `object`, or NULL (a file lcfm reads). */
static open_file *open_file_of(hid_t object) {
  char name[NAME_MAX_LEN];
  ssize_t n = H5Fget_name(object, name, sizeof name);
  return n > 0 && n < (ssize_t)sizeof name ? find_open(name) : NULL;
}

void lcfm_h5_agree(MPI_Comm comm, int failed, const char *reason) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  int mine = failed ? rank : ranks, first = ranks;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == ranks) return;
  if (rank == first) fprintf(stderr, "[%d] %s\n[%d] FAILED\n", rank, reason, rank);
  lcfm_fail_agreed(comm);
}

/* Collective: every rank fails, the message naming the file, when the file system that holds it
 * has less free space than `bytes` (what the next collective write or the close may add; rank 0
 * asks statvfs). A full disk must be found before HDF5's collective calls: a rank that fails
 * inside a collective write of compressed chunks, or inside the collective close, leaves the
 * others waiting on it. A check, not a reservation: another program writing to the same file
 * system can still take the space in between. (fallocate cannot reserve the right blocks here:
 * HDF5 1.10's MPI-IO driver no longer reports the file's allocated size once a dataset exists.) */
static void check_free_space(open_file *f, uint64_t bytes) {
  int rank, failed = 0;
  char reason[NAME_MAX_LEN + 256] = "";
  MPI_Comm_rank(f->comm, &rank);
  struct statvfs fs;
  if (rank == 0 && statvfs(f->partial, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < bytes) {
    failed = 1;
    snprintf(reason, sizeof reason, "%s: %s (the next write may add %llu bytes, %llu are free)",
             strerror(ENOSPC), f->partial, (unsigned long long)bytes,
             (unsigned long long)fs.f_bavail * fs.f_frsize);
  }
  lcfm_h5_agree(f->comm, failed, reason);
}

/* Room for the metadata HDF5 writes besides the data (chunk indices, heaps, attributes). */
static uint64_t metadata_room(uint64_t bytes) { return bytes / 64 + ((uint64_t)1 << 20); }

/* Collective: the bytes a collective write of `filespace` into `dset` may add to the file, over
 * all ranks: the selection's bytes, or, for a compressed dataset (whose chunks HDF5 allocates as
 * it writes them, anew when written again), every chunk the selection touches at its
 * uncompressed size (deflate may grow incompressible data a little); plus metadata_room. */
static uint64_t write_bound(MPI_Comm comm, hid_t dset, hid_t filespace) {
  hid_t dcpl = LCFM_CHECK_H5(H5Dget_create_plist(dset)), type = LCFM_CHECK_H5(H5Dget_type(dset));
  uint64_t bytes = 0, element = H5Tget_size(type);
  hssize_t points = H5Sget_select_npoints(filespace);
  if (points > 0 && H5Pget_nfilters(dcpl) > 0) {
    hsize_t chunk[2] = {1, 1}, first[2] = {0, 0}, last[2] = {0, 0};
    int dims = H5Pget_chunk(dcpl, 2, chunk);
    LCFM_CHECK(dims >= 1 && dims <= 2, "internal: a compressed dataset of rank %d", dims);
    LCFM_CHECK_H5(H5Sget_select_bounds(filespace, first, last));
    bytes = element;
    for (int i = 0; i < dims; i++)
      bytes *= (last[i] / chunk[i] - first[i] / chunk[i] + 1) * chunk[i];
  } else if (points > 0) {
    bytes = (uint64_t)points * element;
  }
  H5Tclose(type), H5Pclose(dcpl);
  LCFM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &bytes, 1, MPI_UINT64_T, MPI_SUM, comm));
  return bytes + metadata_room(bytes);
}

/* Collective: the room the flush and close may need: metadata_room of the file as it stands. */
static uint64_t close_bound(open_file *f) {
  struct stat st;
  int rank;
  MPI_Comm_rank(f->comm, &rank);
  return metadata_room(rank == 0 && stat(f->partial, &st) == 0 ? (uint64_t)st.st_size : 0);
}

/* "errno text: NAME (HDF5's reason)" for a failed call on a file being written. */
static void io_failure(char *buf, size_t len, int saved_errno, const char *partial,
                       const char *what) {
  char detail[600];
  lcfm_h5_last_error(detail, sizeof detail);
  if (saved_errno)
    snprintf(buf, len, "%s: %s (%s%s%s)", strerror(saved_errno), partial, what,
             detail[0] ? ": " : "", detail);
  else snprintf(buf, len, "%s: %s: %s", partial, what, detail[0] ? detail : "HDF5 gave no reason");
}

/* ---- writing back while the ranks go on ----
 * After each collective write, the file's dirty pages are sent to the disk (sync_file_range
 * SYNC_FILE_RANGE_WRITE, Linux) so that the disk writes while the ranks decode and write what
 * follows, and the durable flush before the rename waits only for the last writes: without it,
 * the whole store went to the disk in that flush, a tenth of a warm ingest's time. The call is
 * made by a helper thread per file, because it works in its caller (the file system allocates
 * the blocks, and the call waits for room in the disk's queue): made by the rank, it took back
 * half of what it saved. Advice only: a failure here is found by the flush. */

#ifdef SYNC_FILE_RANGE_WRITE
static void *writeback_loop(void *arg) {
  open_file *f = arg;
  pthread_mutex_lock(&f->lock);
  for (;;) {
    while (!f->writeback_wanted && !f->writeback_stop) pthread_cond_wait(&f->wake, &f->lock);
    if (f->writeback_stop) break;
    f->writeback_wanted = 0; /* requests made meanwhile are served by this call */
    pthread_mutex_unlock(&f->lock);
    (void)sync_file_range(f->writeback_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    pthread_mutex_lock(&f->lock);
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

/* The helper and this rank's own descriptor of the file, opened once (an open per write would
 * load a parallel file system's metadata server); 0, or -1 when the file cannot be opened. */
static int start_writeback_thread(open_file *f) {
  f->writeback_fd = open(f->partial, O_RDONLY | O_CLOEXEC);
  if (f->writeback_fd < 0) return -1;
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->wake, NULL);
  f->writeback_wanted = f->writeback_stop = 0;
  if (pthread_create(&f->writeback_thread, NULL, writeback_loop, f) == 0) return 0;
  close(f->writeback_fd);
  f->writeback_fd = -1;
  return -1;
}

static void start_writeback(open_file *f) {
  if (f->writeback_fd < 0 && start_writeback_thread(f)) return;
  pthread_mutex_lock(&f->lock);
  f->writeback_wanted = 1;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->lock);
}

/* Before the flush: the helper ends (after the call under way, if any). */
static void stop_writeback(open_file *f) {
  if (f->writeback_fd < 0) return;
  pthread_mutex_lock(&f->lock);
  f->writeback_stop = 1;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->writeback_thread, NULL);
  pthread_cond_destroy(&f->wake);
  pthread_mutex_destroy(&f->lock);
  close(f->writeback_fd);
  f->writeback_fd = -1;
}
#else
static void start_writeback(open_file *f) { (void)f; }
static void stop_writeback(open_file *f) { (void)f; }
#endif

hid_t lcfm_h5_file_access(MPI_Comm comm) {
  hid_t fapl = LCFM_CHECK_H5(H5Pcreate(H5P_FILE_ACCESS));
  LCFM_CHECK_H5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  LCFM_CHECK_H5(H5Pset_all_coll_metadata_ops(fapl, 1));
  LCFM_CHECK_H5(H5Pset_coll_metadata_write(fapl, 1));
  /* Large datasets start on 1 MiB boundaries: stripe-friendly on parallel file systems. */
  LCFM_CHECK_H5(H5Pset_alignment(fapl, 1 << 20, 1 << 20));
  return fapl;
}

hid_t lcfm_h5_collective_transfer(void) {
  hid_t dxpl = LCFM_CHECK_H5(H5Pcreate(H5P_DATASET_XFER));
  LCFM_CHECK_H5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  return dxpl;
}

/* Creates `path` (and the groups above it) in `space` with the creation properties `dcpl`, which
 * it closes with the space; datasets are never filled: every element is written by lcfm, and fill
 * values would double the I/O. */
static hid_t create_never_filled(hid_t file, const char *path, hid_t type, hid_t space,
                                 hid_t dcpl) {
  hid_t lcpl = LCFM_CHECK_H5(H5Pcreate(H5P_LINK_CREATE));
  LCFM_CHECK_H5(H5Pset_create_intermediate_group(lcpl, 1));
  LCFM_CHECK_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  hid_t dset = LCFM_CHECK_H5(H5Dcreate2(file, path, type, space, lcpl, dcpl, H5P_DEFAULT));
  H5Pclose(dcpl);
  H5Pclose(lcpl);
  H5Sclose(space);
  return dset;
}

/* A contiguous dataset of rows x cols (cols = 0: 1-D). */
hid_t lcfm_h5_create_dataset(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(cols ? 2 : 1, dims, NULL));
  hid_t dcpl = LCFM_CHECK_H5(H5Pcreate(H5P_DATASET_CREATE));
  LCFM_CHECK_H5(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
  return create_never_filled(file, path, type, space, dcpl);
}

hid_t lcfm_h5_create_growable(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols,
                              int64_t chunk_rows, int deflate_level) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols}, max[2] = {H5S_UNLIMITED, (hsize_t)cols};
  /* Small tables get small chunks (a chunk is allocated whole); never below 64 rows so that
   * appending to them does not make a chunk per row. */
  int64_t floor = rows > 64 ? rows : 64;
  hsize_t chunk[2] = {(hsize_t)(chunk_rows < floor ? chunk_rows : floor),
                      (hsize_t)(cols ? cols : 1)};
  hid_t space = LCFM_CHECK_H5(H5Screate_simple(cols ? 2 : 1, dims, max));
  hid_t dcpl = LCFM_CHECK_H5(H5Pcreate(H5P_DATASET_CREATE));
  LCFM_CHECK_H5(H5Pset_chunk(dcpl, cols ? 2 : 1, chunk));
  if (deflate_level > 0) {
    LCFM_CHECK_H5(H5Pset_shuffle(dcpl));
    LCFM_CHECK_H5(H5Pset_deflate(dcpl, (unsigned)deflate_level));
  } else {
    LCFM_CHECK_H5(
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)); /* what parallel HDF5 requires unfiltered */
  }
  return create_never_filled(file, path, type, space, dcpl);
}

hid_t lcfm_h5_sized_dataset(hid_t file, const char *path, hid_t type, int64_t rows, int64_t cols,
                            int64_t chunk_rows, int deflate_level) {
  if (H5Lexists(file, path, H5P_DEFAULT) <= 0)
    return lcfm_h5_create_growable(file, path, type, rows, cols, chunk_rows, deflate_level);
  hid_t dset = LCFM_CHECK_H5(H5Dopen2(file, path, H5P_DEFAULT));
  lcfm_h5_set_rows(dset, rows);
  return dset;
}

void lcfm_h5_set_rows(hid_t dset, int64_t rows) {
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t dims[2] = {0, 0};
  LCFM_CHECK_H5(H5Sget_simple_extent_dims(space, dims, NULL));
  H5Sclose(space);
  dims[0] = (hsize_t)rows;
  LCFM_CHECK_H5(H5Dset_extent(dset, dims));
}

void lcfm_h5_delete_attribute(hid_t location, const char *name) {
  if (H5Aexists(location, name) > 0) LCFM_CHECK_H5(H5Adelete(location, name));
}

int64_t lcfm_h5_dataset_rows(hid_t dset) {
  hid_t space = LCFM_CHECK_H5(H5Dget_space(dset));
  hsize_t dims[2] = {0, 0};
  LCFM_CHECK_H5(H5Sget_simple_extent_dims(space, dims, NULL));
  H5Sclose(space);
  return (int64_t)dims[0];
}

/* Collective transfer of rows [first, first + count) (x cols) between memory and a dataset.
 * A rank with count 0 selects nothing but still takes part. */
void lcfm_h5_transfer_rows(hid_t dset, hid_t memtype, hid_t dxpl, int64_t first, int64_t count,
                           int64_t cols, void *data, int writing) {
  hid_t filespace = LCFM_CHECK_H5(H5Dget_space(dset));
  if (H5Sget_simple_extent_npoints(filespace) == 0) { /* empty dataset: no storage to touch */
    H5Sclose(filespace);
    return;
  }
  hsize_t start[2] = {(hsize_t)first, 0}, extent[2] = {(hsize_t)count, (hsize_t)(cols ? cols : 1)};
  hsize_t mem_extent[1] = {(hsize_t)(count * (cols ? cols : 1))};
  hid_t memspace = LCFM_CHECK_H5(H5Screate_simple(1, mem_extent, NULL));
  if (count > 0) {
    LCFM_CHECK_H5(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, extent, NULL));
  } else {
    LCFM_CHECK_H5(H5Sselect_none(filespace));
    LCFM_CHECK_H5(H5Sselect_none(memspace));
  }
  if (writing) lcfm_h5_write_selection(dset, memtype, memspace, filespace, dxpl, data);
  else LCFM_CHECK_H5(H5Dread(dset, memtype, memspace, filespace, dxpl, data));
  H5Sclose(memspace);
  H5Sclose(filespace);
}

void lcfm_h5_write_selection(hid_t dset, hid_t memtype, hid_t memspace, hid_t filespace, hid_t dxpl,
                             const void *data) {
  open_file *f = open_file_of(dset);
  if (!f) {
    LCFM_CHECK_H5(H5Dwrite(dset, memtype, memspace, filespace, dxpl, data));
    return;
  }
  check_free_space(f, write_bound(f->comm, dset, filespace));
  errno = 0;
  int failed = H5Dwrite(dset, memtype, memspace, filespace, dxpl, data) < 0;
  char reason[NAME_MAX_LEN + 1024] = "";
  if (failed) io_failure(reason, sizeof reason, errno, f->partial, "writing");
  lcfm_h5_agree(f->comm, failed, reason);
  start_writeback(f);
}

hid_t lcfm_h5_create_partial(MPI_Comm comm, const char *path, char *partial, size_t partial_len) {
  snprintf(partial, partial_len, "%s.partial", path);
  int rank, locked = 0;
  MPI_Comm_rank(comm, &rank);
  char why[NAME_MAX_LEN * 2 + 256] = "";
  if (rank == 0) locked = lcfm_output_lock(path, why, sizeof why) == 0;
  LCFM_CHECK_MPI(MPI_Bcast(&locked, 1, MPI_INT, 0, comm));
  if (!locked) lcfm_h5_agree(comm, rank == 0, why);
  lcfm_remove_on_failure(partial);
  hid_t fapl = lcfm_h5_file_access(comm);
  errno = 0;
  hid_t file = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0)
    io_failure(why, sizeof why, errno, partial,
               "cannot create"); /* before the next H5 call clears it */
  H5Pclose(fapl);
  lcfm_h5_agree(comm, file < 0, why);
  remember(partial, comm);
  return file;
}

/* Copies `from` to `to` (created or truncated) with copy_file_range, which shares blocks where
 * the file system can (reflinks) and copies in the kernel elsewhere. Returns 0 or errno. */
static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = errno;
    close(in);
    return e;
  }
  int e = 0;
  for (;;) {
    ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
    if (n == 0) break;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
        errno == EINVAL) { /* plain copy */
      char buf[1 << 16];
      ssize_t got;
      while ((got = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)got) != got) {
          got = -1;
          break;
        }
      if (got < 0) e = errno ? errno : EIO;
    } else {
      e = errno;
    }
    break;
  }
  if (close(out) != 0 && !e) e = errno;
  close(in);
  return e;
}

hid_t lcfm_h5_open_partial_copy(MPI_Comm comm, const char *path, char *partial,
                                size_t partial_len) {
  snprintf(partial, partial_len, "%s.partial", path);
  int rank, failed = 0;
  MPI_Comm_rank(comm, &rank);
  char why[NAME_MAX_LEN * 2 + 256] = "";
  if (rank == 0 && lcfm_output_lock(path, why, sizeof why) != 0) failed = 1;
  lcfm_h5_agree(comm, failed, why);
  lcfm_remove_on_failure(partial);
  if (rank == 0) {
    int e = copy_file(path, partial);
    failed = e != 0;
    if (failed)
      snprintf(why, sizeof why, "%s: cannot copy %s to %s for appending", strerror(e), path,
               partial);
  }
  lcfm_h5_agree(comm, failed, why);
  hid_t fapl = lcfm_h5_file_access(comm);
  errno = 0;
  hid_t file = H5Fopen(partial, H5F_ACC_RDWR, fapl);
  if (file < 0) io_failure(why, sizeof why, errno, partial, "cannot open for appending");
  H5Pclose(fapl);
  lcfm_h5_agree(comm, file < 0, why);
  remember(partial, comm);
  return file;
}

void lcfm_h5_publish(MPI_Comm comm, hid_t file, const char *partial, const char *path) {
  open_file *f = find_open(partial);
  LCFM_CHECK(f, "internal: %s is not a file being written", partial);
  int rank;
  MPI_Comm_rank(comm, &rank);
  char reason[NAME_MAX_LEN * 2 + 1024] = "";
  check_free_space(f, close_bound(f));
  stop_writeback(f);
  /* Flush first: what fails, fails here with the file still open on every rank. */
  errno = 0;
  int failed = H5Fflush(file, H5F_SCOPE_GLOBAL) < 0;
  if (failed) io_failure(reason, sizeof reason, errno, partial, "flushing");
  lcfm_h5_agree(comm, failed, reason);
  errno = 0;
  failed = H5Fclose(file) < 0;
  if (failed) io_failure(reason, sizeof reason, errno, partial, "closing");
  lcfm_h5_agree(comm, failed, reason);
  /* rename(2) is atomic: PATH is either the previous file or the complete new one. */
  failed = rank == 0 && rename(partial, path) != 0;
  if (failed)
    snprintf(reason, sizeof reason, "cannot rename %s to %s: %s", partial, path, strerror(errno));
  lcfm_h5_agree(comm, failed, reason);
  f->partial[0] = '\0';
  lcfm_keep_on_failure(partial);
  if (rank == 0) lcfm_output_unlock(path);
}

hid_t lcfm_h5_create_partial_local(const char *path, char *partial, size_t partial_len) {
  char why[NAME_MAX_LEN * 2 + 256];
  if (lcfm_output_lock(path, why, sizeof why)) LCFM_FATAL("%s", why);
  snprintf(partial, partial_len, "%s.partial", path);
  lcfm_remove_on_failure(partial);
  errno = 0;
  hid_t file = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) {
    io_failure(why, sizeof why, errno, partial, "cannot create");
    LCFM_FATAL("%s", why);
  }
  return file;
}

void lcfm_h5_publish_local(hid_t file, const char *partial, const char *path) {
  errno = 0;
  if (H5Fclose(file) < 0) {
    char reason[NAME_MAX_LEN + 1024];
    io_failure(reason, sizeof reason, errno, partial, "closing");
    LCFM_FATAL("%s", reason);
  }
  if (rename(partial, path) != 0)
    LCFM_FATAL("cannot rename %s to %s: %s", partial, path, strerror(errno));
  lcfm_keep_on_failure(partial);
  lcfm_output_unlock(path);
}

char *lcfm_h5_read_text_attribute(hid_t location, const char *name) {
  if (H5Aexists(location, name) <= 0) return NULL;
  hid_t attr = H5Aopen(location, name, H5P_DEFAULT);
  if (attr < 0) return NULL;
  hid_t type = H5Aget_type(attr);
  char *text = NULL;
  if (type >= 0 && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0) {
    size_t size = H5Tget_size(type);
    text = lcfm_calloc(size + 1, 1);
    hid_t mem = LCFM_CHECK_H5(H5Tcopy(H5T_C_S1));
    LCFM_CHECK_H5(H5Tset_size(mem, size + 1));
    if (H5Aread(attr, mem, text) < 0) text[0] = '\0';
    H5Tclose(mem);
  }
  if (type >= 0) H5Tclose(type);
  H5Aclose(attr);
  return text;
}

void lcfm_store_shard(int64_t objects, int rank, int ranks, int64_t *first, int64_t *count) {
  int64_t base = objects / ranks, extra = objects % ranks;
  *first = rank * base + (rank < extra ? rank : extra);
  *count = base + (rank < extra ? 1 : 0);
}
