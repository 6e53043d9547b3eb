/* fuzz_store.c: libFuzzer target for the store reader: lcfm_store_open with its checks
 * (store_check.h), then every read a reader makes (instruments, rejects, every object and its
 * points through the cursor).
 *
 * The input is a recipe for a store, not HDF5 bytes: mutating the bytes of an HDF5 file fuzzes
 * the HDF5 library's own parser, while lcfm's part is what it does with well-formed files that
 * hold wrong content. The recipe (store_recipe.h) gives the object and instrument counts, a
 * damage byte per column (absent, ragged, of the wrong class, 2-D), then per object its length,
 * instrument, label, offset error and id, and per point its time, value and error (some bytes
 * stand for NaN and infinities). Invariants: the store is refused, with a reason naming the file,
 * exactly when the recipe broke the schema (fuzz_write_store knows, or says it cannot tell); an
 * accepted store reads whole and keeps the schema's invariants. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "lcfm/store.h"
#include "store_recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the store as the readers do and checks what they see. */
static void read_everything(lcfm_store *s) {
  int64_t n = lcfm_store_object_count(s), instruments = 0;
  free(lcfm_store_read_instruments(s, &instruments));
  FUZZ_REQUIRE(lcfm_store_reject_count(s) >= 0, "reject count");
  lcfm_store_cursor c;
  lcfm_store_cursor_begin(&c, s, 0, n, 7);
  int64_t objects = 0, points = 0;
  while (lcfm_store_cursor_next(&c)) {
    const lcfm_object_batch *b = &c.batch;
    for (int64_t i = 0; i < b->count; i++, objects++) {
      FUZZ_REQUIRE(b->instrument[i] >= 0 && b->instrument[i] < instruments,
                   "object %lld: instrument %d of %lld", (long long)objects, b->instrument[i],
                   (long long)instruments);
      FUZZ_REQUIRE(b->label[i] >= -1 && b->length[i] >= 0, "object %lld: label %d length %d",
                   (long long)objects, b->label[i], b->length[i]);
    }
    for (int64_t p = 0; p < b->point_count; p++, points++)
      FUZZ_REQUIRE(isfinite(b->time[p]) && isfinite(b->value[p]) && isfinite(b->error[p]),
                   "point %lld not finite", (long long)points);
  }
  lcfm_store_cursor_end(&c);
  FUZZ_REQUIRE(objects == n && points == lcfm_store_point_count(s),
               "read %lld of %lld objects, %lld of %lld points", (long long)objects, (long long)n,
               (long long)points, (long long)lcfm_store_point_count(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_mpi_init();
  char path[64];
  snprintf(path, sizeof path, "/tmp/lcfm_fuzz_store_%d.h5", (int)getpid());
  int broken = fuzz_write_store(path, data, size);
  char why[2048] = "";
  lcfm_store *s = lcfm_store_open(MPI_COMM_WORLD, path, why, sizeof why);
  FUZZ_REQUIRE(broken < 0 || (s == NULL) == broken, "%s: %s",
               broken ? "a broken store was accepted" : "a sound store was refused", why);
  if (getenv("LCFM_FUZZ_VERBOSE"))
    printf("%s\n", s ? "read" : why); /* to see what a corpus reaches */
  if (s) {
    read_everything(s);
    lcfm_store_free(s);
  } else {
    FUZZ_REQUIRE(strstr(why, path) != NULL, "a refusal that does not name the file: %s", why);
  }
  unlink(path);
  return 0;
}
