/*
 * Worker threads moving bytes between two TCP sockets with splice(2): socket → pipe → socket, per
 * direction, edge-triggered epoll registered once per fd. Pipes come from a small per-worker pool and are
 * held only while bytes are in flight, so an idle pair costs its two socket fds and nothing else.
 *
 * Ownership: pump_add builds a pair on the calling thread and queues it; from then on only the worker
 * touches it (the main thread talks to it by id through the command queue). A pair closed while events
 * of the same epoll batch may still name it is freed only after the batch.
 */
#define _GNU_SOURCE
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Pipe size asked for with F_SETPIPE_SZ. Measured with `npm run bench` (both directions at once, proxy
 * pinned to one core): 64 KiB (the default) 12.9 Gbit/s at 0.62 CPU-s/GB, 128 KiB 14.3 at 0.52, 256 KiB
 * 16.9 at 0.39, 512 KiB 17.1 at 0.36 (worse with 8 streams), 1 MiB 11.6 at 0.50. Pipes are held only
 * while bytes are in flight. If the kernel refuses (pipe-user-pages-soft reached, unprivileged), a pipe
 * keeps the size it got.
 */
#define PIPE_BYTES (256 * 1024)
/* Chunks one direction may move before other pairs get a turn (fairness across streams). */
#define BUDGET 16
#define POOL_MAX 32
#define SWEEP_MIN_MS 25
#define EVENTS 256

struct pair;

struct endpoint {
  struct pair *pair;
  int fd;
  uint8_t side; /* 0 client, 1 backend */
  uint8_t rd;   /* readable (or hung up) since the last EAGAIN */
  uint8_t wr;   /* writable since the last EAGAIN */
};

struct dir {
  char *head;
  size_t head_len, head_off;
  int pr, pw;      /* pipe, -1 when none is held */
  size_t cap;      /* the held pipe's capacity */
  size_t in_pipe;  /* bytes spliced in and not yet out */
  uint64_t bytes;  /* bytes written to the destination */
  uint8_t eof;     /* source returned EOF */
  uint8_t shut;    /* destination's write side shut down */
};

struct pair {
  uint64_t id;
  struct endpoint ep[2];
  struct dir dir[2]; /* dir[0]: client → backend; dir[1]: backend → client */
  double *counters;
  void *user;
  uint32_t idle_ms;
  int64_t last; /* ms, last time bytes moved */
  uint8_t closed, queued, adopted;
  struct pair *prev, *next; /* the worker's live pairs */
  struct pair *hnext;       /* id hash chain */
  struct pair *rnext;       /* run-again list / graveyard */
  struct pair *cnext;       /* command queue */
};

struct abort_cmd {
  uint64_t id;
  struct abort_cmd *next;
};

struct worker {
  struct pump *pump;
  pthread_t thread;
  int started;
  int ep, evfd;
  pthread_mutex_t mu;
  struct pair *adds, *adds_tail; /* guarded by mu */
  struct abort_cmd *aborts;      /* guarded by mu */
  int stop;                      /* guarded by mu */
  struct pair *live;
  size_t active;
  struct pair **table;
  size_t nbuckets;
  struct pair *again;     /* pairs that ran out of budget with work left */
  struct pair *graveyard; /* closed during the current batch */
  struct {
    int r, w;
    size_t cap;
  } pool[POOL_MAX];
  int npool;
  int64_t now, next_sweep;
};

struct pump {
  pump_done_fn done;
  void *ctx;
  int nworkers;
  uint64_t next_id; /* main thread only */
  struct worker workers[];
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_counter(double *slot, uint64_t value) {
  double v = (double)value;
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  __atomic_store_n((uint64_t *)slot, bits, __ATOMIC_RELAXED);
}

/* ---- id table ---- */

static size_t bucket(struct worker *w, uint64_t id) {
  return (size_t)(id * 0x9E3779B97F4A7C15ull >> 20) & (w->nbuckets - 1);
}

static int table_insert(struct worker *w, struct pair *p) {
  if (w->active + 1 > w->nbuckets) {
    size_t nb = w->nbuckets ? w->nbuckets * 2 : 64;
    struct pair **t = calloc(nb, sizeof *t);
    if (!t) return ENOMEM;
    struct pair **old = w->table;
    size_t oldn = w->nbuckets;
    w->table = t;
    w->nbuckets = nb;
    for (size_t i = 0; i < oldn; i++) {
      for (struct pair *q = old[i], *n; q; q = n) {
        n = q->hnext;
        size_t b = bucket(w, q->id);
        q->hnext = t[b];
        t[b] = q;
      }
    }
    free(old);
  }
  size_t b = bucket(w, p->id);
  p->hnext = w->table[b];
  w->table[b] = p;
  return 0;
}

static struct pair *table_find(struct worker *w, uint64_t id) {
  if (!w->nbuckets) return NULL;
  for (struct pair *q = w->table[bucket(w, id)]; q; q = q->hnext)
    if (q->id == id) return q;
  return NULL;
}

static void table_remove(struct worker *w, struct pair *p) {
  if (!w->nbuckets) return;
  for (struct pair **q = &w->table[bucket(w, p->id)]; *q; q = &(*q)->hnext) {
    if (*q == p) {
      *q = p->hnext;
      return;
    }
  }
}

/* ---- pipe pool ---- */

static int pipe_acquire(struct worker *w, struct dir *x) {
  if (w->npool > 0) {
    w->npool--;
    x->pr = w->pool[w->npool].r;
    x->pw = w->pool[w->npool].w;
    x->cap = w->pool[w->npool].cap;
    return 0;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  x->pr = fds[0];
  x->pw = fds[1];
  int cap = fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
  if (cap < 0) cap = fcntl(fds[1], F_GETPIPE_SZ);
  x->cap = cap > 0 ? (size_t)cap : 4096;
  return 0;
}

static void pipe_release(struct worker *w, struct dir *x) {
  if (x->pr < 0) return;
  if (x->in_pipe == 0 && w->npool < POOL_MAX) {
    w->pool[w->npool].r = x->pr;
    w->pool[w->npool].w = x->pw;
    w->pool[w->npool].cap = x->cap;
    w->npool++;
  } else {
    close(x->pr);
    close(x->pw);
  }
  x->pr = x->pw = -1;
  x->in_pipe = 0;
}

static void pool_drain(struct worker *w) {
  while (w->npool > 0) {
    w->npool--;
    close(w->pool[w->npool].r);
    close(w->pool[w->npool].w);
  }
}

/* ---- pairs ---- */

static void pair_free(struct pair *p) {
  free(p->dir[0].head);
  free(p->dir[1].head);
  free(p);
}

static void set_reset(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* Closes the pair's fds; `reset`: with SO_LINGER {1,0}, so the peers see RST instead of FIN. */
static void pair_release_fds(struct worker *w, struct pair *p, int reset) {
  for (int i = 0; i < 2; i++) {
    /* Explicit DEL: Node's copy of the fd may still be open, and then close() alone would leave the
     * registration (and its pointer to this pair) in our epoll. */
    if (p->adopted) epoll_ctl(w->ep, EPOLL_CTL_DEL, p->ep[i].fd, NULL);
    if (reset) set_reset(p->ep[i].fd);
    close(p->ep[i].fd);
    p->ep[i].fd = -1;
    pipe_release(w, &p->dir[i]);
  }
}

static void pair_close(struct worker *w, struct pair *p, int end, int err, int reset) {
  if (p->closed) return;
  p->closed = 1;
  pair_release_fds(w, p, reset);
  if (p->prev) p->prev->next = p->next;
  else w->live = p->next;
  if (p->next) p->next->prev = p->prev;
  table_remove(w, p);
  w->active--;
  /* Before the completion: once JS hears of the last pair, the worker holds no pipe fds. */
  if (w->active == 0) pool_drain(w);
  if (!p->queued) {
    p->rnext = w->graveyard;
    w->graveyard = p;
  }
  pump_done_t d = {p->id, p->dir[0].bytes, p->dir[1].bytes, end, err, p->user};
  w->pump->done(w->pump->ctx, &d);
}

static int is_reset_errno(int err) {
  switch (err) {
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return 1;
    default:
      return 0;
  }
}

/* A syscall on side `side` (0 client, 1 backend, -1 internal) failed: reset both peers. */
static void pair_fail(struct worker *w, struct pair *p, int side, int err) {
  int end = PUMP_END_ERROR;
  if (side >= 0 && is_reset_errno(err)) end = side == 0 ? PUMP_END_CLIENT_RESET : PUMP_END_BACKEND_RESET;
  pair_close(w, p, end, err, 1);
}

static void account(struct worker *w, struct pair *p, int d, size_t n) {
  p->dir[d].bytes += n;
  set_counter(&p->counters[d], p->dir[d].bytes);
  p->last = w->now;
}

static int dir_done(const struct dir *x) {
  return x->eof && x->shut && x->in_pipe == 0 && x->head_off == x->head_len;
}

/*
 * Moves what it can in direction d until a side would block. Returns 1 when it stopped because the
 * budget ran out (more may be ready), else 0. May close the pair.
 */
static int dir_pump(struct worker *w, struct pair *p, int d) {
  struct dir *x = &p->dir[d];
  struct endpoint *src = &p->ep[d], *dst = &p->ep[1 - d];
  int budget = BUDGET;
  for (;;) {
    if (x->head_off < x->head_len) {
      if (!dst->wr) return 0;
      ssize_t n = send(dst->fd, x->head + x->head_off, x->head_len - x->head_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          dst->wr = 0;
          return 0;
        }
        pair_fail(w, p, dst->side, errno);
        return 0;
      }
      x->head_off += (size_t)n;
      account(w, p, d, (size_t)n);
      continue;
    }
    if (x->in_pipe > 0) {
      if (!dst->wr) return 0;
      ssize_t n = splice(x->pr, NULL, dst->fd, NULL, x->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          dst->wr = 0;
          return 0;
        }
        pair_fail(w, p, dst->side, errno);
        return 0;
      }
      if (n == 0) {
        pair_fail(w, p, -1, EIO); /* a pipe we hold bytes in cannot be at EOF */
        return 0;
      }
      x->in_pipe -= (size_t)n;
      account(w, p, d, (size_t)n);
      continue;
    }
    if (x->eof) {
      if (!x->shut) {
        /* Half-close: the source's FIN reaches the destination only after everything before it. */
        x->shut = 1;
        if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN) pair_fail(w, p, dst->side, errno);
      }
      return 0;
    }
    if (!src->rd) {
      pipe_release(w, x);
      return 0;
    }
    if (budget-- == 0) return 1;
    if (x->pr < 0) {
      int err = pipe_acquire(w, x);
      if (err) {
        pair_fail(w, p, -1, err);
        return 0;
      }
    }
    /* The pipe is empty here, so EAGAIN can only mean the socket has nothing to read. */
    ssize_t n = splice(src->fd, NULL, x->pw, NULL, x->cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      x->in_pipe = (size_t)n;
      p->last = w->now;
      continue;
    }
    if (n == 0) {
      x->eof = 1;
      p->last = w->now;
      pipe_release(w, x);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      src->rd = 0;
      pipe_release(w, x);
      return 0;
    }
    pair_fail(w, p, src->side, errno);
    return 0;
  }
}

static void pair_run(struct worker *w, struct pair *p) {
  int more = 0;
  for (int d = 0; d < 2 && !p->closed; d++) more |= dir_pump(w, p, d);
  if (p->closed) return;
  if (dir_done(&p->dir[0]) && dir_done(&p->dir[1])) {
    pair_close(w, p, PUMP_END_DONE, 0, 0);
    return;
  }
  if (more && !p->queued) {
    p->queued = 1;
    p->rnext = w->again;
    w->again = p;
  }
}

static void pair_adopt(struct worker *w, struct pair *p) {
  p->next = w->live;
  if (w->live) w->live->prev = p;
  w->live = p;
  w->active++;
  p->last = w->now;
  int err = table_insert(w, p);
  for (int i = 0; i < 2 && !err; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &p->ep[i]};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, p->ep[i].fd, &ev) < 0) err = errno;
    else p->adopted = 1;
  }
  if (err) {
    pair_fail(w, p, -1, err);
    return;
  }
  if (p->idle_ms && w->now + p->idle_ms < w->next_sweep) w->next_sweep = w->now + p->idle_ms;
  pair_run(w, p);
}

static void on_socket_event(struct worker *w, struct endpoint *ep, uint32_t events) {
  struct pair *p = ep->pair;
  if (p->closed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ep->rd = 1;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ep->wr = 1;
  pair_run(w, p);
  if (!p->closed && (events & EPOLLERR)) {
    /* A reset on a side neither direction is using right now (e.g. after its half-close). */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(ep->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) pair_fail(w, p, ep->side, err);
  }
}

static void sweep_idle(struct worker *w) {
  int64_t next = INT64_MAX;
  for (struct pair *p = w->live, *n; p; p = n) {
    n = p->next;
    if (!p->idle_ms) continue;
    int64_t deadline = p->last + p->idle_ms;
    if (w->now >= deadline) pair_close(w, p, PUMP_END_IDLE, 0, 0);
    else if (deadline < next) next = deadline;
  }
  /* A sweep walks every pair: at most one per SWEEP_MIN_MS, so timeouts may fire that much late. */
  if (next != INT64_MAX && next < w->now + SWEEP_MIN_MS) next = w->now + SWEEP_MIN_MS;
  w->next_sweep = next;
}

/* Returns 1 when the worker must stop. */
static int take_commands(struct worker *w) {
  uint64_t v;
  while (read(w->evfd, &v, sizeof v) < 0 && errno == EINTR) {
  }
  pthread_mutex_lock(&w->mu);
  struct pair *adds = w->adds;
  struct abort_cmd *aborts = w->aborts;
  int stop = w->stop;
  w->adds = w->adds_tail = NULL;
  w->aborts = NULL;
  pthread_mutex_unlock(&w->mu);
  /* Adds before aborts: an abort may name a pair queued just before it. */
  for (struct pair *p = adds, *n; p; p = n) {
    n = p->cnext;
    pair_adopt(w, p);
  }
  for (struct abort_cmd *a = aborts, *n; a; a = n) {
    n = a->next;
    struct pair *p = table_find(w, a->id);
    if (p) pair_close(w, p, PUMP_END_ABORTED, 0, 1);
    free(a);
  }
  return stop;
}

static void free_graveyard(struct worker *w) {
  for (struct pair *p = w->graveyard, *n; p; p = n) {
    n = p->rnext;
    pair_free(p);
  }
  w->graveyard = NULL;
}

static void run_again(struct worker *w) {
  struct pair *list = w->again;
  w->again = NULL;
  for (struct pair *p = list, *n; p; p = n) {
    n = p->rnext;
    p->queued = 0;
    if (p->closed) {
      /* Closed while queued: pair_close left it to us. */
      pair_free(p);
      continue;
    }
    /* If this run closes it, pair_close (seeing it unqueued) puts it in the graveyard. */
    pair_run(w, p);
  }
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  pthread_setname_np(pthread_self(), "edge46-splice");
  struct epoll_event events[EVENTS];
  for (;;) {
    int timeout = -1;
    if (w->again) timeout = 0;
    else if (w->next_sweep != INT64_MAX) {
      int64_t wait = w->next_sweep - now_ms();
      timeout = wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
    }
    int n = epoll_wait(w->ep, events, EVENTS, timeout);
    w->now = now_ms();
    int stop = 0;
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) stop |= take_commands(w);
      else on_socket_event(w, events[i].data.ptr, events[i].events);
    }
    free_graveyard(w);
    run_again(w);
    free_graveyard(w);
    if (w->now >= w->next_sweep) {
      sweep_idle(w);
      free_graveyard(w);
    }
    if (stop) break;
  }
  return NULL;
}

/* ---- stopping ---- */

static void worker_drop_all(struct worker *w, pump_drop_fn dropped, void *ctx) {
  /* Reset everything still open, without completions: the process or environment is going away. */
  for (struct pair *p = w->live, *n; p; p = n) {
    n = p->next;
    p->closed = 1;
    pair_release_fds(w, p, 1);
    if (dropped) dropped(ctx, p->user);
    if (!p->queued) pair_free(p);
  }
  w->live = NULL;
  for (struct pair *p = w->again, *n; p; p = n) {
    n = p->rnext;
    pair_free(p);
  }
  w->again = NULL;
  free_graveyard(w);
  pthread_mutex_lock(&w->mu);
  struct pair *adds = w->adds;
  struct abort_cmd *aborts = w->aborts;
  w->adds = w->adds_tail = NULL;
  w->aborts = NULL;
  pthread_mutex_unlock(&w->mu);
  for (struct pair *p = adds, *n; p; p = n) {
    n = p->cnext;
    pair_release_fds(w, p, 1);
    if (dropped) dropped(ctx, p->user);
    pair_free(p);
  }
  for (struct abort_cmd *a = aborts, *n; a; a = n) {
    n = a->next;
    free(a);
  }
  pool_drain(w);
  free(w->table);
  w->table = NULL;
}

static void wake(struct worker *w) {
  uint64_t one = 1;
  while (write(w->evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void pump_destroy(pump_t *p, pump_drop_fn dropped, void *ctx) {
  for (int i = 0; i < p->nworkers; i++) {
    struct worker *w = &p->workers[i];
    if (!w->started) continue;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_mutex_unlock(&w->mu);
    wake(w);
  }
  for (int i = 0; i < p->nworkers; i++) {
    struct worker *w = &p->workers[i];
    if (w->started) pthread_join(w->thread, NULL);
    worker_drop_all(w, dropped, ctx);
    if (w->ep >= 0) close(w->ep);
    if (w->evfd >= 0) close(w->evfd);
    pthread_mutex_destroy(&w->mu);
  }
  free(p);
}

int pump_create(pump_t **out, int threads, pump_done_fn done, void *ctx) {
  if (threads < 1 || threads > 64) return EINVAL;
  pump_t *p = calloc(1, sizeof *p + (size_t)threads * sizeof(struct worker));
  if (!p) return ENOMEM;
  p->done = done;
  p->ctx = ctx;
  p->nworkers = threads;
  int err = 0;
  for (int i = 0; i < threads; i++) {
    struct worker *w = &p->workers[i];
    w->pump = p;
    w->ep = w->evfd = -1;
    w->next_sweep = INT64_MAX;
    pthread_mutex_init(&w->mu, NULL);
  }
  for (int i = 0; i < threads && !err; i++) {
    struct worker *w = &p->workers[i];
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ep < 0 || w->evfd < 0) {
      err = errno;
      break;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev) < 0) {
      err = errno;
      break;
    }
    /* Workers must not take the process's signals (SIGPIPE is avoided with MSG_NOSIGNAL anyway). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!err) w->started = 1;
  }
  if (err) {
    pump_destroy(p, NULL, NULL);
    return err;
  }
  *out = p;
  return 0;
}

static int dup_socket(int fd, int *out) {
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return errno;
  if (type != SOCK_STREAM) return EINVAL;
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return errno;
  int fl = fcntl(d, F_GETFL);
  if (fl < 0 || fcntl(d, F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = errno;
    close(d);
    return err;
  }
  *out = d;
  return 0;
}

static int copy_head(struct dir *x, const void *data, size_t len) {
  if (len == 0) return 0;
  x->head = malloc(len);
  if (!x->head) return ENOMEM;
  memcpy(x->head, data, len);
  x->head_len = len;
  return 0;
}

int pump_add(pump_t *p, int client_fd, int backend_fd, const void *client_head, size_t client_head_len,
             const void *backend_head, size_t backend_head_len, uint32_t idle_ms, double *counters,
             void *user, uint64_t *id_out) {
  struct pair *pr = calloc(1, sizeof *pr);
  if (!pr) return ENOMEM;
  pr->ep[0].fd = pr->ep[1].fd = -1;
  int err = dup_socket(client_fd, &pr->ep[0].fd);
  if (!err) err = dup_socket(backend_fd, &pr->ep[1].fd);
  if (!err) err = copy_head(&pr->dir[0], client_head, client_head_len);
  if (!err) err = copy_head(&pr->dir[1], backend_head, backend_head_len);
  if (err) {
    for (int i = 0; i < 2; i++)
      if (pr->ep[i].fd >= 0) close(pr->ep[i].fd);
    pair_free(pr);
    return err;
  }
  for (int i = 0; i < 2; i++) {
    pr->ep[i].pair = pr;
    pr->ep[i].side = (uint8_t)i;
    pr->ep[i].rd = pr->ep[i].wr = 1;
    pr->dir[i].pr = pr->dir[i].pw = -1;
  }
  pr->idle_ms = idle_ms;
  pr->counters = counters;
  pr->user = user;
  set_counter(&counters[0], 0);
  set_counter(&counters[1], 0);
  uint64_t id = ++p->next_id;
  pr->id = id;
  struct worker *w = &p->workers[id % (uint64_t)p->nworkers];
  pthread_mutex_lock(&w->mu);
  if (w->adds_tail) w->adds_tail->cnext = pr;
  else w->adds = pr;
  w->adds_tail = pr;
  pthread_mutex_unlock(&w->mu);
  /* From here on the pair belongs to the worker. */
  wake(w);
  *id_out = id;
  return 0;
}

void pump_abort(pump_t *p, uint64_t id) {
  if (id == 0) return;
  struct abort_cmd *a = malloc(sizeof *a);
  if (!a) return;
  a->id = id;
  struct worker *w = &p->workers[id % (uint64_t)p->nworkers];
  pthread_mutex_lock(&w->mu);
  a->next = w->aborts;
  w->aborts = a;
  pthread_mutex_unlock(&w->mu);
  wake(w);
}
