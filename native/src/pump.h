/*
 * The byte pump: established TCP pairs moved with splice(2) on worker threads, each with its own epoll.
 * This half knows nothing about N-API; the only call back out is `pump_done_fn`, made on a worker thread.
 */
#ifndef EDGE46_PUMP_H
#define EDGE46_PUMP_H

#include <stddef.h>
#include <stdint.h>

/* Why a pair ended; the order matches PIPE_ENDS in src/pipe/splice-engine.ts. */
enum pump_end {
  PUMP_END_DONE = 0,
  PUMP_END_IDLE = 1,
  PUMP_END_CLIENT_RESET = 2,
  PUMP_END_BACKEND_RESET = 3,
  PUMP_END_ABORTED = 4,
  PUMP_END_ERROR = 5,
};

typedef struct pump_done {
  uint64_t id;
  uint64_t to_backend;
  uint64_t to_client;
  int end; /* enum pump_end */
  int err; /* errno behind a reset or error, else 0 */
  void *user; /* as given to pump_add */
} pump_done_t;

/* Called on a worker thread once per finished pair (never for pairs dropped by pump_destroy). */
typedef void (*pump_done_fn)(void *ctx, const pump_done_t *done);

/* Called by pump_destroy, on its caller's thread, with the `user` of each pair it dropped. */
typedef void (*pump_drop_fn)(void *ctx, void *user);

typedef struct pump pump_t;

/* Starts `threads` workers. Returns 0 or an errno. */
int pump_create(pump_t **out, int threads, pump_done_fn done, void *ctx);

/*
 * Hands a pair to a worker (round-robin). The fds are dup'd (the caller keeps and must close its own);
 * the heads are copied and written first. `counters` (2 doubles: to backend, to client) is written by the
 * worker until the pair's completion has been reported, so it must stay valid until then. `user` comes
 * back untouched with the completion (or to pump_destroy's drop callback).
 * Returns 0 (and the pair's id) or an errno; on error nothing was queued.
 */
int pump_add(pump_t *p, int client_fd, int backend_fd, const void *client_head, size_t client_head_len,
             const void *backend_head, size_t backend_head_len, uint32_t idle_ms, double *counters,
             void *user, uint64_t *id_out);

/* Resets both sides of a pair (completion reported as PUMP_END_ABORTED). Unknown ids are ignored. */
void pump_abort(pump_t *p, uint64_t id);

/*
 * Stops and joins the workers; every live pair is reset without a completion and its `user` passed to
 * `dropped` (if not NULL). Frees `p`.
 */
void pump_destroy(pump_t *p, pump_drop_fn dropped, void *ctx);

#endif
