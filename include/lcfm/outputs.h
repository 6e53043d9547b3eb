/* outputs.h: the files a run writes: checked when the job is loaded, owned by one run at a time,
 * and published whole.
 *
 * Checks (exit 2 before any work): an output path of a verb must not be empty or a directory,
 * its directory must exist and be writable, and it must not name the same file (same path after
 * realpath, or same inode) as any input of the job: `embed.output = embed.store` would destroy
 * the store it reads.
 *
 * Exclusive outputs: while a run writes NAME it holds NAME.lock, a small file that names the
 * holder ("host PID since") and carries an flock(2) lock. A second run that wants NAME is refused
 * with the holder's name. flock rather than O_EXCL alone: the kernel drops the lock when its
 * process dies (kill -9, node reboot for network file systems that keep it), so a lock left by a
 * dead run is recognised without guessing from PIDs and taken over (logged), while the file's
 * text still names a live holder in the refusal. Where flock is not supported (ENOLCK, ENOSYS),
 * the lock falls back to its text: a holder on this host whose PID is gone is stale; any other
 * holder refuses. On a file system whose flock is node-local (Lustre's localflock), locks only
 * exclude runs on the same node. The lock is removed when the output is published, when the
 * process ends, and when it fails (error.h); the holder's count nests, so a verb that claims its
 * outputs for the whole run (a trainer writing one checkpoint many times) and the writer that
 * publishes each file share one lock.
 *
 * Text files (a sweep point's job, the plots manifest) are published like HDF5 ones (h5io.h):
 * NAME.partial is written, synced and renamed to NAME under NAME's lock.
 */
#ifndef LCFM_OUTPUTS_H
#define LCFM_OUTPUTS_H

#include <mpi.h>
#include <stddef.h>

#include "lcfm/job.h"

/* Rank 0's job check for `verb` (simulate, ingest, train, embed, probe, run; a stage name such
 * as "train-baseline" counts as its verb): each bad output key is reported with lcfm_job_error.
 * Returns the number of problems (0 on other ranks). */
int lcfm_outputs_check_job(const lcfm_job *job, const char *verb);

/* Collective: rank 0 takes the locks of the verb's outputs for the rest of the process. Returns
 * 0, or LCFM_EXIT_RUNTIME on every rank after rank 0 printed who holds one. */
int lcfm_outputs_claim(MPI_Comm comm, const lcfm_job *job, const char *verb);

/* This process: takes PATH's lock (nested when already held). Returns 0, or 1 with why ("PATH is
 * being written by another lcfm run (host H, PID P, since T)"). */
int lcfm_output_lock(const char *path, char *why, size_t why_len);
/* Drops one hold of PATH's lock; the last one removes PATH.lock. */
void lcfm_output_unlock(const char *path);

/* This process: writes `text` to PATH through PATH.partial under PATH's lock. Fails with
 * LCFM_FATAL (partial removed). */
void lcfm_output_publish_text(const char *path, const char *text);

#endif
