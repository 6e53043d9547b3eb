/* embed_stream.c: what every model's `lcfm embed` shares (see embed.h): the embedding store's
 * writer, the collective streaming of the store in blocks, and the window queue that averages a
 * model's window outputs into its objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcfm/embed.h"
#include "lcfm/fields.h"
#include "lcfm/h5io.h"
#include "lcfm/log.h"
#include "lcfm/store.h"
#include "lcfm/store_check.h"
#include "lcfm/store_index.h"
#include "lcfm/train.h"

enum { COLUMNS = 5 };
static const char *const column_names[COLUMNS] = {
    "/objects/id", "/objects/source", "/objects/instrument", "/objects/field", "/objects/label"};

typedef struct {
  MPI_Comm comm;
  hid_t file, dxpl, columns[COLUMNS], outputs[LCFM_EMBED_MAX_OUTPUTS];
  char partial[4096];
  const lcfm_embed_outputs *o;
} embedding_writer;

static void writer_attributes(embedding_writer *w, const lcfm_provenance *prov,
                              const char *checkpoint, const char *signature,
                              const char *store_signature) {
  lcfm_h5_write_string_attribute(w->file, "schema", LCFM_EMBEDDINGS_SCHEMA);
  lcfm_h5_write_int64_attribute(w->file, "schema_version", 1);
  lcfm_h5_write_string_attribute(w->file, "checkpoint", checkpoint);
  lcfm_h5_write_string_attribute(w->file, "model_signature", signature);
  lcfm_h5_write_string_attribute(w->file, "window_rule", w->o->window_rule);
  lcfm_provenance_write(w->file, prov);
  /* Which store these rows come from (store_check.h): probe refuses them for another store. */
  if (store_signature[0])
    lcfm_h5_write_string_attribute(w->file, LCFM_STORE_SIGNATURE_ATTRIBUTE, store_signature);
}

/* The columns and outputs with `objects` rows: created growable, or resized when appending. */
static void writer_datasets(embedding_writer *w, int64_t objects) {
  enum { CHUNK = 8192 };
  for (int c = 0; c < COLUMNS; c++)
    w->columns[c] =
        lcfm_h5_sized_dataset(w->file, column_names[c], c < 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32,
                              objects, 0, CHUNK, 0);
  for (int e = 0; e < w->o->count; e++)
    w->outputs[e] = lcfm_h5_sized_dataset(w->file, w->o->names[e], H5T_NATIVE_FLOAT, objects,
                                          w->o->cols[e], CHUNK, 0);
}

static void writer_open(embedding_writer *w, MPI_Comm comm, const char *path, int64_t objects,
                        const lcfm_embed_outputs *o, const lcfm_provenance *prov,
                        const char *checkpoint, const char *signature,
                        const char *store_signature) {
  memset(w, 0, sizeof *w);
  w->comm = comm, w->o = o;
  w->file = lcfm_h5_create_partial(comm, path, w->partial, sizeof w->partial);
  w->dxpl = lcfm_h5_collective_transfer();
  writer_attributes(w, prov, checkpoint, signature, store_signature);
  writer_datasets(w, objects);
}

/* Why embeddings `path` (open as `file`) cannot be extended with `signature`'s model over the
 * selected rows of `store`, or "": same model, same fields, and they hold the first rows of the
 * selection (their last id is the id of the selection's row at that place). */
static void append_refusal(hid_t file, const char *path, lcfm_store *store, const int64_t *rows,
                           int64_t n, const char *signature, const char *fields, int64_t *embedded,
                           char *why, size_t len) {
  char *schema = lcfm_h5_read_text_attribute(file, "schema"),
       *model = lcfm_h5_read_text_attribute(file, "model_signature");
  char *selection = lcfm_h5_read_text_attribute(file, "fields");
  int growable = 0;
  why[0] = '\0';
  *embedded = 0;
  if (H5Lexists(file, column_names[0], H5P_DEFAULT) > 0) {
    hid_t ids = LCFM_CHECK_H5(H5Dopen2(file, column_names[0], H5P_DEFAULT)),
          dcpl = LCFM_CHECK_H5(H5Dget_create_plist(ids));
    growable = H5Pget_layout(dcpl) == H5D_CHUNKED;
    *embedded = lcfm_h5_dataset_rows(ids);
    H5Pclose(dcpl), H5Dclose(ids);
  }
  if (!schema || strcmp(schema, LCFM_EMBEDDINGS_SCHEMA))
    snprintf(why, len, "%s: not an lcfm embedding store; cannot append to it", path);
  else if (!growable)
    snprintf(
        why, len,
        "%s: written by an older lcfm (fixed-size datasets): embed anew ([embed] mode = create)",
        path);
  else if (!model || strcmp(model, signature))
    snprintf(
        why, len,
        "%s: made by another model (model_signature differs from the checkpoint's): embed anew",
        path);
  else if (strcmp(selection ? selection : "", fields))
    snprintf(why, len, "%s: made for [embed] fields = '%s', this job selects '%s'", path,
             selection ? selection : "", fields);
  else if (*embedded > n)
    snprintf(
        why, len,
        "%s: holds %lld objects, more than the %lld the store has to embed: made from another store",
        path, (long long)*embedded, (long long)n);
  free(schema), free(model), free(selection);
  if (why[0] || *embedded == 0) return;
  /* The embeddings must be those of the selection's first rows: compare the last id. */
  int64_t last = -1, expected = -1, row = rows ? rows[*embedded - 1] : *embedded - 1;
  hid_t ids = LCFM_CHECK_H5(H5Dopen2(file, column_names[0], H5P_DEFAULT));
  hid_t dxpl = lcfm_h5_collective_transfer();
  lcfm_h5_transfer_rows(ids, H5T_NATIVE_INT64, dxpl, *embedded - 1, 1, 0, &last, 0);
  H5Dclose(ids);
  lcfm_object_batch b;
  lcfm_batch_alloc(&b, 1, 0);
  lcfm_store_read_objects(store, row, 1, &b);
  expected = b.id[0];
  lcfm_batch_free(&b);
  H5Pclose(dxpl);
  if (last != expected)
    snprintf(
        why, len,
        "%s: its last object has id %lld but the store's object at that place has id %lld: made from "
        "another store; embed anew",
        path, (long long)last, (long long)expected);
}

/* Collective: opens a copy of the embeddings `path` to add the selected rows not yet embedded
 * (copy-on-append, h5io.h); *embedded gets how many it holds. */
static void writer_append(embedding_writer *w, MPI_Comm comm, const char *path, lcfm_store *store,
                          const int64_t *rows, int64_t n, const lcfm_embed_outputs *o,
                          const lcfm_provenance *prov, const char *checkpoint,
                          const char *signature, const char *store_signature, int64_t *embedded) {
  memset(w, 0, sizeof *w);
  w->comm = comm, w->o = o;
  w->file = lcfm_h5_open_partial_copy(comm, path, w->partial, sizeof w->partial);
  w->dxpl = lcfm_h5_collective_transfer();
  char why[2048];
  append_refusal(w->file, path, store, rows, n, signature, o->fields ? o->fields : "", embedded,
                 why, sizeof why);
  int rank;
  MPI_Comm_rank(comm, &rank);
  lcfm_h5_agree(comm, why[0] && rank == 0, why);
  H5O_info_t info; /* the attributes describe the last run and the store as it is now */
  LCFM_CHECK_H5(H5Oget_info(w->file, &info));
  for (hsize_t i = info.num_attrs; i > 0; i--)
    LCFM_CHECK_H5(H5Adelete_by_idx(w->file, ".", H5_INDEX_NAME, H5_ITER_INC, i - 1, H5P_DEFAULT));
  writer_attributes(w, prov, checkpoint, signature, store_signature);
  writer_datasets(w, n);
}

static void writer_rows(embedding_writer *w, const lcfm_object_batch *b, int64_t first,
                        float *const *z) {
  void *columns[COLUMNS] = {b->id, b->source, b->instrument, b->field, b->label};
  for (int c = 0; c < COLUMNS; c++)
    lcfm_h5_transfer_rows(w->columns[c], c < 2 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32, w->dxpl,
                          first, b->count, 0, columns[c], 1);
  for (int e = 0; e < w->o->count; e++)
    lcfm_h5_transfer_rows(w->outputs[e], H5T_NATIVE_FLOAT, w->dxpl, first, b->count, w->o->cols[e],
                          z[e], 1);
}

static void writer_close(embedding_writer *w, const char *path) {
  for (int c = 0; c < COLUMNS; c++) H5Dclose(w->columns[c]);
  for (int e = 0; e < w->o->count; e++) H5Dclose(w->outputs[e]);
  H5Pclose(w->dxpl);
  lcfm_h5_publish(w->comm, w->file, w->partial, path);
}

/* The store rows of the selected fields (NULL for the whole store: row i is object i); *n of them. */
static int64_t *selected_rows(lcfm_store *store, const char *fields, int64_t *n) {
  lcfm_fields selection;
  char why[1024];
  if (lcfm_fields_parse(fields, &selection, why, sizeof why))
    LCFM_FATAL("[embed] fields: %s", why); /* checked at job load */
  int64_t *rows = NULL;
  *n = lcfm_store_object_count(store);
  if (!lcfm_fields_all(&selection))
    rows = lcfm_store_select_fields(lcfm_store_file(store), "the store", &selection, n);
  lcfm_fields_free(&selection);
  return rows;
}

/* How many of positions [at, end) from `at` on hold consecutive store rows, block at most. */
static int64_t next_run(const int64_t *rows, int64_t at, int64_t end, int64_t block) {
  int64_t run = 0;
  while (at + run < end && run < block && (!rows || rows[at + run] == rows[at] + run)) run++;
  return run;
}

/* ---- the window queue ---- */

/* The windows of the objects of one block, queued in the model's batch; out[e] gets each object's
 * mean of its windows' outputs weighted by their valid points. */
typedef struct {
  const lcfm_embed_outputs *o;
  int64_t *owner;  /* object (in the block) of each queued window */
  float *weight;   /* valid points of each queued window */
  double *weights; /* per object of the block: sum of its windows' weights */
  int queued;
} window_queue;

static void queue_alloc(window_queue *q, const lcfm_embed_outputs *o, int64_t block) {
  q->o = o, q->queued = 0;
  q->owner = lcfm_malloc((size_t)o->windows.capacity * sizeof *q->owner);
  q->weight = lcfm_malloc((size_t)o->windows.capacity * sizeof *q->weight);
  q->weights = lcfm_malloc((size_t)block * sizeof *q->weights);
}

static void queue_free(window_queue *q) { free(q->owner), free(q->weight), free(q->weights); }

/* Runs the queued windows and adds their outputs, weighted, to their objects. */
static void flush_windows(window_queue *q, float *const *out) {
  if (q->queued == 0) return;
  const lcfm_embed_windows *m = &q->o->windows;
  const float *window_out[LCFM_EMBED_MAX_OUTPUTS];
  m->run(m->model, q->queued, window_out);
  for (int w = 0; w < q->queued; w++) {
    int64_t o = q->owner[w];
    q->weights[o] += q->weight[w];
    for (int e = 0; e < m->averaged; e++) {
      int cols = q->o->cols[e];
      float *sum = out[e] + o * cols;
      const float *x = window_out[e] + (size_t)w * cols;
      for (int j = 0; j < cols; j++) sum[j] += q->weight[w] * x[j];
    }
  }
  q->queued = 0;
}

/* out[e] [b->count, cols[e]] for the objects of b. */
static void embed_block(window_queue *q, const lcfm_object_batch *b, float *const *out) {
  const lcfm_embed_windows *m = &q->o->windows;
  int T = m->T;
  for (int e = 0; e < m->averaged; e++)
    memset(out[e], 0, (size_t)b->count * q->o->cols[e] * sizeof *out[e]);
  memset(q->weights, 0, (size_t)b->count * sizeof *q->weights);
  for (int64_t o = 0; o < b->count; o++) {
    int64_t at = b->offset[o] - b->offset[0];
    for (int64_t start = 0; start < b->length[o]; start += T) {
      if (q->queued == m->capacity) flush_windows(q, out);
      int n = (int)(b->length[o] - start < T ? b->length[o] - start : T);
      int64_t first = at + start;
      m->put(m->model, q->queued, b->time + first, b->value + first, b->error + first, n);
      q->owner[q->queued] = o;
      q->weight[q->queued] = (float)n;
      q->queued++;
    }
  }
  flush_windows(q, out);
  for (int e = 0; e < m->averaged; e++) {
    int cols = q->o->cols[e];
    for (int64_t o = 0; o < b->count; o++) {
      float *mean = out[e] + o * cols;
      for (int j = 0; j < cols; j++)
        mean[j] = q->weights[o] > 0 ? (float)(mean[j] / q->weights[o]) : 0.0f;
    }
  }
  if (m->finish) m->finish(m->model, b->count, out);
}

/* ---- the stream ---- */

/* Collective: reads the checkpoint into p (its signature must match) and opens the store. On
 * failure rank 0 prints the reason and FAILED and every rank gets NULL; *step = the checkpoint's. */
static lcfm_store *open_checkpoint_and_store(MPI_Comm comm, const char *checkpoint,
                                             const char *store_path, lcfm_nn_params *p,
                                             const char *signature, int64_t *step) {
  lcfm_adam unused_opt = {0};
  lcfm_train_state state = {0};
  char why[2048] = "";
  int failed = lcfm_checkpoint_read(checkpoint, p, &unused_opt, &state, signature, why, sizeof why);
  lcfm_store *store = failed ? NULL : lcfm_store_open(comm, store_path, why, sizeof why);
  int any = 0, mine = failed || !store;
  LCFM_CHECK_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  if (any) {
    lcfm_report_failure(lcfm_log_rank() == 0, "lcfm embed: %s",
                        why[0] ? why : "another rank failed");
    lcfm_store_free(store);
    return NULL;
  }
  *step = state.step;
  return store;
}

/* Collective: streams this rank's shard of the store in blocks of `block` objects, embeds their
 * windows through o->windows and writes the embedding store `output`. */
static void stream(MPI_Comm comm, lcfm_store *store, const char *output, int64_t block,
                   const lcfm_embed_outputs *o, const lcfm_provenance *prov, const char *checkpoint,
                   const char *signature) {
  int rank, ranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &ranks);
  const char *fields = o->fields ? o->fields : "";
  int64_t n, *rows = selected_rows(store, fields, &n), first, count, embedded = 0;
  embedding_writer w;
  char store_signature[LCFM_STORE_SIGNATURE_LEN] = "";
  lcfm_store_signature(lcfm_store_file(store), store_signature, sizeof store_signature);
  if (o->append)
    writer_append(&w, comm, output, store, rows, n, o, prov, checkpoint, signature, store_signature,
                  &embedded);
  else writer_open(&w, comm, output, n, o, prov, checkpoint, signature, store_signature);
  if (rows) lcfm_h5_write_string_attribute(w.file, "fields", fields);
  /* Appending embeds the selected objects after the `embedded` ones already there. */
  lcfm_store_shard(n - embedded, rank, ranks, &first, &count);
  first += embedded;
  if (o->append)
    lcfm_log("embed: %lld objects already embedded in %s, %lld to add", (long long)embedded, output,
             (long long)(n - embedded));
  float *z[LCFM_EMBED_MAX_OUTPUTS];
  for (int e = 0; e < o->count; e++)
    z[e] = lcfm_malloc((size_t)block * (size_t)o->cols[e] * sizeof(float));
  window_queue queue;
  queue_alloc(&queue, o, block);
  lcfm_progress progress;
  lcfm_progress_start(&progress, "embed", n - embedded);
  int64_t at = first, end = first + count, done_all = 0;
  for (
      ;
      ;) { /* one collective block per pass: the next run of consecutive store rows, on every rank */
    int64_t run = next_run(rows, at, end, block);
    lcfm_store_cursor cursor;
    lcfm_store_cursor_begin(&cursor, store, run ? (rows ? rows[at] : at) : 0, run, block);
    int more = lcfm_store_cursor_next(&cursor);
    if (more) {
      embed_block(&queue, &cursor.batch, z);
      writer_rows(&w, &cursor.batch, at, z);
      at += run;
      int64_t done_now = 0;
      LCFM_CHECK_MPI(MPI_Allreduce(&run, &done_now, 1, MPI_INT64_T, MPI_SUM, comm));
      done_all += done_now;
      lcfm_progress_update(&progress, done_all);
    }
    lcfm_store_cursor_end(&cursor);
    if (!more) break;
  }
  lcfm_progress_finish(&progress, done_all);
  free(rows);
  writer_close(&w, output);
  for (int e = 0; e < o->count; e++) free(z[e]);
  queue_free(&queue);
  lcfm_log("wrote %s", output);
}

int lcfm_embed_model(MPI_Comm comm, const lcfm_job *job, const lcfm_provenance *prov,
                     lcfm_nn_params *p, const char *settings, lcfm_embed_outputs *o) {
  const char *store_path = lcfm_job_settings(job)->embed.store;
  const char *checkpoint = lcfm_job_settings(job)->embed.checkpoint;
  const char *output = lcfm_job_settings(job)->embed.output;
  int64_t block = lcfm_job_settings(job)->embed.block_objects;
  o->fields = lcfm_job_settings(job)->embed.fields;
  o->append = !strcmp(lcfm_job_settings(job)->embed.mode, "append");
  char *signature = lcfm_model_signature(p, settings);
  int64_t step = 0;
  lcfm_store *store = open_checkpoint_and_store(comm, checkpoint, store_path, p, signature, &step);
  if (!store) {
    free(signature);
    return LCFM_EXIT_RUNTIME;
  }
  int ranks;
  MPI_Comm_size(comm, &ranks);
  lcfm_log("embed %s with %s (%s, step %lld): %lld objects on %d ranks -> %s", store_path,
           checkpoint, settings, (long long)step, (long long)lcfm_store_object_count(store), ranks,
           output);
  stream(comm, store, output, block, o, prov, checkpoint, signature);
  free(signature);
  lcfm_store_free(store);
  lcfm_log_success("embed");
  return LCFM_EXIT_OK;
}
