/* The backend half of edge46-load (included by edge46-load.c): one epoll loop, level-triggered. */

enum { S_HELLO, S_CMD, S_RUN, S_HTTP };
enum { C_SINK = 1, C_SRCE = 2, C_PING = 4, C_IDLE = 8, C_ECHO = 16 };

struct resp {
  size_t size;
  char *data;
  size_t len;
};

struct outseg {
  const char *data;
  size_t len;
};

#define OUTQ 64

struct sconn {
  int fd;
  int state;
  int cmd;
  unsigned char *buf; /* hello/command/echo/http input */
  size_t len, cap, pos;
  size_t hs_need, hs_have;
  off_t off;
  struct outseg out[OUTQ]; /* pending writes (echo copies live in buf) */
  int nout;
  size_t out_off;
  int rd_eof;
  uint32_t events;
};

static const char *serve_id = "backend";
static struct resp resps[8];
static int nresps = 0;

static const struct resp *response_for(size_t size) {
  for (int i = 0; i < nresps; i++)
    if (resps[i].size == size) return &resps[i];
  struct resp *r = &resps[nresps < 8 ? nresps++ : 7];
  free(r->data);
  char head[256];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                    "X-Backend: %s\r\n\r\n",
                    size, serve_id);
  r->size = size;
  r->len = (size_t)hl + size;
  r->data = malloc(r->len);
  memcpy(r->data, head, (size_t)hl);
  for (size_t i = 0; i < size; i++) r->data[hl + i] = (char)('a' + i % 26);
  return r;
}

static void sconn_free(struct sconn *c) {
  close(c->fd);
  free(c->buf);
  free(c);
}

static void sconn_events(int ep, struct sconn *c, uint32_t want) {
  if (want != c->events) {
    c->events = want;
    epoll_mod(ep, c->fd, want, c);
  }
}

/* Writes queued segments; returns 1 when all were written, 0 on EAGAIN, -1 on error. */
static int flush_out(struct sconn *c) {
  while (c->nout > 0) {
    struct outseg *s = &c->out[0];
    ssize_t n = send(c->fd, s->data + c->out_off, s->len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    c->out_off += (size_t)n;
    if (c->out_off == s->len) {
      memmove(&c->out[0], &c->out[1], (size_t)(c->nout - 1) * sizeof c->out[0]);
      c->nout--;
      c->out_off = 0;
    }
  }
  return 1;
}

static void queue_out(struct sconn *c, const char *data, size_t len) {
  if (c->nout < OUTQ && len > 0) c->out[c->nout++] = (struct outseg){data, len};
}

/* Parses TLS records until the whole ClientHello handshake message is in; 1 done, 0 more, -1 bad. */
static int parse_hello(struct sconn *c) {
  while (!(c->hs_need && c->hs_have >= c->hs_need)) {
    if (c->len - c->pos < 5) return 0;
    const unsigned char *r = c->buf + c->pos;
    if (r[0] != 0x16) return -1;
    size_t rlen = (size_t)r[3] << 8 | r[4];
    if (c->len - c->pos < 5 + rlen) return 0;
    if (c->hs_have == 0) {
      if (rlen < 4 || r[5] != 1) return -1;
      c->hs_need = 4 + ((size_t)r[6] << 16 | (size_t)r[7] << 8 | r[8]);
    }
    c->hs_have += rlen;
    c->pos += 5 + rlen;
  }
  return 1;
}

static int parse_cmd(struct sconn *c) {
  unsigned char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
  if (!nl) return c->len - c->pos > 16 ? -1 : 0;
  size_t n = (size_t)(nl - (c->buf + c->pos));
  const char *s = (const char *)c->buf + c->pos;
  if (n == 4 && memcmp(s, "SINK", 4) == 0) c->cmd = C_SINK;
  else if (n == 4 && memcmp(s, "SRCE", 4) == 0) c->cmd = C_SRCE;
  else if (n == 4 && memcmp(s, "BOTH", 4) == 0) c->cmd = C_SINK | C_SRCE;
  else if (n == 4 && memcmp(s, "PING", 4) == 0) c->cmd = C_PING;
  else if (n == 4 && memcmp(s, "IDLE", 4) == 0) c->cmd = C_IDLE;
  else if (n == 4 && memcmp(s, "ECHO", 4) == 0) c->cmd = C_ECHO;
  else return -1;
  c->pos += n + 1;
  return 1;
}

static int read_more(struct sconn *c) {
  if (c->len == c->cap) {
    if (c->pos > 0) {
      memmove(c->buf, c->buf + c->pos, c->len - c->pos);
      c->len -= c->pos;
      c->pos = 0;
    } else if (c->cap < MAXHELLO) {
      c->cap *= 2;
      c->buf = realloc(c->buf, c->cap);
    } else {
      return -1;
    }
  }
  ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
  if (n == 0) c->rd_eof = 1;
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  c->len += (size_t)n;
  return (int)(n > 0);
}

static char ping_reply[64];
static char id_line[128];

/* Starts a command once parsed; returns -1 to close. */
static int start_cmd(struct sconn *c) {
  c->state = S_RUN;
  if (c->cmd == C_PING) {
    send(c->fd, ping_reply, sizeof ping_reply, MSG_NOSIGNAL | MSG_DONTWAIT);
    return -1; /* FIN right after the reply */
  }
  if (c->cmd == C_IDLE) send(c->fd, "K", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (c->cmd == C_ECHO) queue_out(c, id_line, strlen(id_line));
  return 0;
}

static int echo_step(int ep, struct sconn *c) {
  for (int rounds = 0; rounds < 64; rounds++) {
    int f = flush_out(c);
    if (f < 0) return -1;
    if (f == 0) {
      sconn_events(ep, c, EPOLLOUT);
      return 0;
    }
    /* Everything written: the buffer can be reused. */
    c->len = c->pos = 0;
    if (c->rd_eof) return -1; /* all echoed: FIN */
    int r = read_more(c);
    if (r < 0) return -1;
    if (c->len > 0) queue_out(c, (const char *)c->buf, c->len);
    else if (!c->rd_eof) {
      sconn_events(ep, c, EPOLLIN);
      return 0;
    }
  }
  sconn_events(ep, c, EPOLLIN | EPOLLOUT);
  return 0;
}

static int http_step(int ep, struct sconn *c) {
  for (int rounds = 0; rounds < 64; rounds++) {
    int f = flush_out(c);
    if (f < 0) return -1;
    if (f == 0) {
      sconn_events(ep, c, EPOLLOUT);
      return 0;
    }
    /* Answer every complete request in the buffer. */
    for (;;) {
      unsigned char *end = memmem(c->buf + c->pos, c->len - c->pos, "\r\n\r\n", 4);
      if (!end || c->nout >= OUTQ) break;
      const char *line = (const char *)c->buf + c->pos;
      const char *sp = memchr(line, ' ', (size_t)((const char *)end - line));
      size_t size = sp ? strtoul(sp + 2, NULL, 10) : 0;
      if (size > (1 << 20)) size = 1 << 20;
      const struct resp *r = response_for(size);
      queue_out(c, r->data, r->len);
      c->pos = (size_t)(end + 4 - c->buf);
    }
    if (c->nout > 0) continue;
    if (c->rd_eof) return -1;
    if (c->pos == c->len) c->pos = c->len = 0;
    int r = read_more(c);
    if (r < 0) return -1;
    if (r == 0 && !c->rd_eof) {
      sconn_events(ep, c, EPOLLIN);
      return 0;
    }
  }
  sconn_events(ep, c, EPOLLIN | EPOLLOUT);
  return 0;
}

/* Returns -1 when the connection is to be closed. */
static int sconn_step(int ep, struct sconn *c, uint32_t events) {
  if (c->state == S_HTTP) return http_step(ep, c);
  if (c->state == S_RUN && c->cmd == C_ECHO) return echo_step(ep, c);
  if (c->state == S_RUN) {
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      int eof = 0;
      if (sink(c->fd, 1 << 20, &eof) < 0 || eof) return -1;
    }
    if ((c->cmd & C_SRCE) && (events & EPOLLOUT))
      if (send_bulk(c->fd, &c->off, 1 << 20) < 0) return -1;
    return 0;
  }
  int r = read_more(c);
  if (r < 0) return -1;
  if (c->state == S_HELLO) {
    int h = parse_hello(c);
    if (h < 0) return -1;
    if (h == 0) return c->rd_eof ? -1 : 0;
    c->state = S_CMD;
  }
  int p = parse_cmd(c);
  if (p < 0) return -1;
  if (p == 0) return c->rd_eof ? -1 : 0;
  if (start_cmd(c) < 0) return -1;
  if (c->cmd == C_ECHO) {
    /* Bytes after the command line are echoed too. */
    memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
    if (c->len > 0) queue_out(c, (const char *)c->buf, c->len);
    return echo_step(ep, c);
  }
  c->len = c->pos = 0;
  sconn_events(ep, c, (c->cmd & C_SRCE) ? EPOLLIN | EPOLLOUT : EPOLLIN);
  return 0;
}

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static int run_serve(int argc, char **argv) {
  struct sockaddr_storage addr;
  socklen_t alen = parse_addr(arg(argc, argv, "--listen", NULL), &addr);
  serve_id = arg(argc, argv, "--id", "backend");
  int http = has_flag(argc, argv, "--http");
  memset(ping_reply, 'P', sizeof ping_reply);
  ping_reply[sizeof ping_reply - 1] = '\n';
  snprintf(id_line, sizeof id_line, "ID %s\n", serve_id);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int lfd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, alen) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_add(ep, lfd, EPOLLIN, NULL);
  printf("listening\n");
  fflush(stdout);
  struct epoll_event events[EVENTS];
  while (!stopping) {
    int n = epoll_wait(ep, events, EVENTS, 200);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        for (int k = 0; k < 256; k++) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct sconn *c = calloc(1, sizeof *c);
          c->fd = fd;
          c->cap = 16384;
          c->buf = malloc(c->cap);
          c->state = http ? S_HTTP : S_HELLO;
          c->events = EPOLLIN;
          epoll_add(ep, fd, EPOLLIN, c);
        }
        continue;
      }
      struct sconn *c = events[i].data.ptr;
      if (sconn_step(ep, c, events[i].events) < 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        sconn_free(c);
      }
    }
  }
  return 0;
}
