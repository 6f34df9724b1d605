/* The client half of edge46-load (included by edge46-load.c). */

struct client_common {
  struct sockaddr_storage addr;
  socklen_t alen;
  char *hello; /* ClientHello followed by the command line */
  size_t hello_len;
};

static void client_setup(struct client_common *cc, int argc, char **argv, const char *cmd) {
  cc->alen = parse_addr(arg(argc, argv, "--connect", NULL), &cc->addr);
  if (!cmd) return;
  size_t len;
  char *h = read_file(arg(argc, argv, "--hello", NULL), &len);
  size_t cl = strlen(cmd);
  cc->hello = malloc(len + cl);
  memcpy(cc->hello, h, len);
  memcpy(cc->hello + len, cmd, cl);
  cc->hello_len = len + cl;
  free(h);
}

static int start_connect(int ep, struct client_common *cc, void *ptr) {
  int fd = new_socket(cc->addr.ss_family);
  if (connect(fd, (struct sockaddr *)&cc->addr, cc->alen) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  epoll_add(ep, fd, EPOLLOUT, ptr);
  return fd;
}

static int connected_ok(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

static int send_all_small(int fd, const char *data, size_t len) {
  return send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

/* ---- bulk ---- */

struct stream {
  int fd;
  int up; /* connected and hello sent */
  off_t off;
};

static int run_bulk(int argc, char **argv) {
  const char *dir = arg(argc, argv, "--dir", "down");
  int down = strcmp(dir, "up") != 0, upl = strcmp(dir, "down") != 0;
  struct client_common cc;
  client_setup(&cc, argc, argv, down && upl ? "BOTH\n" : down ? "SRCE\n" : "SINK\n");
  int n = atoi(arg(argc, argv, "--streams", "1"));
  int64_t warm = atoll(arg(argc, argv, "--warmup-ms", "300")) * 1000000;
  int64_t dur = atoll(arg(argc, argv, "--duration-ms", "1000")) * 1000000;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int cpu_pid = atoi(arg(argc, argv, "--cpu-pid", "0"));
  double cpu0 = 0, cpu1 = 0;
  struct stream *s = calloc((size_t)n, sizeof *s);
  for (int i = 0; i < n; i++) {
    s[i].fd = start_connect(ep, &cc, &s[i]);
    if (s[i].fd < 0) die("connect");
  }
  uint32_t run_events = (down ? EPOLLIN : 0) | (upl ? EPOLLOUT : 0);
  int ready = 0, errors = 0;
  int64_t deadline = now_ns() + 5000000000LL, warm_end = 0, end = 0, t0 = 0, t1 = 0;
  uint64_t rx = 0, tx = 0, rx0 = 0, tx0 = 0, rx1 = 0, tx1 = 0;
  struct epoll_event events[EVENTS];
  for (;;) {
    int64_t now = now_ns();
    if (!warm_end && now > deadline) {
      fprintf(stderr, "edge46-load: only %d of %d streams came up\n", ready, n);
      return 1;
    }
    if (warm_end && !t0 && now >= warm_end) t0 = now, rx0 = rx, tx0 = tx, cpu0 = cpu_seconds(cpu_pid);
    if (end && now >= end) {
      t1 = now, rx1 = rx, tx1 = tx, cpu1 = cpu_seconds(cpu_pid);
      break;
    }
    int k = epoll_wait(ep, events, EVENTS, wait_ms(!warm_end ? deadline : !t0 ? warm_end : end));
    for (int i = 0; i < k; i++) {
      struct stream *st = events[i].data.ptr;
      if (st->fd < 0) continue;
      uint32_t ev = events[i].events;
      if (!st->up) {
        if (!connected_ok(st->fd) || send_all_small(st->fd, cc.hello, cc.hello_len) < 0) die("stream connect");
        st->up = 1;
        epoll_mod(ep, st->fd, run_events, st);
        if (++ready == n) {
          warm_end = now_ns() + warm;
          end = warm_end + dur;
        }
        continue;
      }
      int eof = 0;
      if (down && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t r = sink(st->fd, 1 << 20, &eof);
        if (r > 0) rx += (uint64_t)r;
        if (r < 0 || eof) {
          errors++;
          close(st->fd);
          st->fd = -1;
          continue;
        }
      }
      if (upl && (ev & EPOLLOUT)) {
        ssize_t w = send_bulk(st->fd, &st->off, 1 << 20);
        if (w > 0) tx += (uint64_t)w;
        if (w < 0) {
          errors++;
          close(st->fd);
          st->fd = -1;
        }
      }
    }
  }
  for (int i = 0; i < n; i++)
    if (s[i].fd >= 0) close_reset(s[i].fd);
  printf("{\"streams\":%d,\"seconds\":%.6f,\"bytesDown\":%llu,\"bytesUp\":%llu,\"errors\":%d,"
         "\"cpuSeconds\":%.3f}\n",
         n, (double)(t1 - t0) / 1e9, (unsigned long long)(rx1 - rx0), (unsigned long long)(tx1 - tx0), errors,
         cpu1 - cpu0);
  return 0;
}

/* ---- rate: new connections with a small exchange ---- */

struct slot {
  int fd;
  int sent;
  size_t got;
};

static int run_rate(int argc, char **argv) {
  struct client_common cc;
  client_setup(&cc, argc, argv, "PING\n");
  int n = atoi(arg(argc, argv, "--concurrency", "16"));
  int64_t warm = atoll(arg(argc, argv, "--warmup-ms", "300")) * 1000000;
  int64_t dur = atoll(arg(argc, argv, "--duration-ms", "1000")) * 1000000;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int cpu_pid = atoi(arg(argc, argv, "--cpu-pid", "0"));
  double cpu0 = 0;
  struct slot *s = calloc((size_t)n, sizeof *s);
  int64_t start = now_ns(), warm_end = start + warm, end = warm_end + dur, t0 = 0;
  uint64_t done = 0, done0 = 0, errors = 0;
  for (int i = 0; i < n; i++) s[i].fd = start_connect(ep, &cc, &s[i]);
  struct epoll_event events[EVENTS];
  static char scratch[4096];
  int64_t now = start;
  while (now < end && errors < 100000) {
    int k = epoll_wait(ep, events, EVENTS, wait_ms(!t0 ? warm_end : end));
    for (int i = 0; i < k; i++) {
      struct slot *sl = events[i].data.ptr;
      int finished = 0, failed = 0;
      if (!sl->sent) {
        if (!connected_ok(sl->fd) || send_all_small(sl->fd, cc.hello, cc.hello_len) < 0) failed = 1;
        else {
          sl->sent = 1;
          epoll_mod(ep, sl->fd, EPOLLIN, sl);
        }
      } else {
        for (;;) {
          ssize_t r = recv(sl->fd, scratch, sizeof scratch, MSG_DONTWAIT);
          if (r > 0) {
            sl->got += (size_t)r;
            continue;
          }
          if (r == 0) finished = sl->got == 64 ? 1 : (failed = 1, 0);
          else if (errno != EAGAIN && errno != EINTR) failed = 1;
          break;
        }
      }
      if (finished || failed) {
        close(sl->fd);
        if (failed) errors++;
        else done++;
        sl->sent = 0;
        sl->got = 0;
        sl->fd = start_connect(ep, &cc, sl);
        if (sl->fd < 0) errors++;
      }
    }
    now = now_ns();
    if (!t0 && now >= warm_end) t0 = now, done0 = done, cpu0 = cpu_seconds(cpu_pid);
  }
  double cpu1 = cpu_seconds(cpu_pid);
  for (int i = 0; i < n; i++)
    if (s[i].fd >= 0) close_reset(s[i].fd);
  printf("{\"connections\":%llu,\"seconds\":%.6f,\"errors\":%llu,\"cpuSeconds\":%.3f}\n",
         (unsigned long long)(done - done0), (double)(now - t0) / 1e9, (unsigned long long)errors, cpu1 - cpu0);
  return 0;
}

/* ---- idle: hold many established passthrough connections ---- */

static int run_idle(int argc, char **argv) {
  struct client_common cc;
  client_setup(&cc, argc, argv, "IDLE\n");
  int n = atoi(arg(argc, argv, "--count", "1000"));
  int64_t deadline = now_ns() + atoll(arg(argc, argv, "--timeout-ms", "30000")) * 1000000;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct slot *s = calloc((size_t)n, sizeof *s);
  int started = 0, inflight = 0, established = 0, lost = 0;
  struct epoll_event stdin_ev = {.events = EPOLLIN, .data.ptr = NULL};
  struct epoll_event events[EVENTS];
  int ready_printed = 0;
  int64_t t_start = now_ns();
  for (;;) {
    while (started < n && inflight < 256) {
      s[started].fd = start_connect(ep, &cc, &s[started]);
      if (s[started].fd < 0) die("connect");
      started++;
      inflight++;
    }
    if (!ready_printed && established + lost == n) {
      printf("{\"event\":\"ready\",\"established\":%d,\"lost\":%d,\"seconds\":%.3f}\n", established, lost,
             (double)(now_ns() - t_start) / 1e9);
      fflush(stdout);
      ready_printed = 1;
      epoll_ctl(ep, EPOLL_CTL_ADD, 0, &stdin_ev);
    }
    if (!ready_printed && now_ns() > deadline) {
      printf("{\"error\":\"timeout\",\"established\":%d,\"lost\":%d}\n", established, lost);
      return 1;
    }
    int k = epoll_wait(ep, events, EVENTS, ready_printed ? 1000 : 100);
    int quit = 0;
    for (int i = 0; i < k; i++) {
      struct slot *sl = events[i].data.ptr;
      if (!sl) {
        quit = 1;
        continue;
      }
      if (sl->fd < 0) continue;
      if (!sl->sent) {
        if (!connected_ok(sl->fd) || send_all_small(sl->fd, cc.hello, cc.hello_len) < 0) goto lose;
        sl->sent = 1;
        epoll_mod(ep, sl->fd, EPOLLIN, sl);
        continue;
      }
      if (sl->got == 0) {
        char b;
        ssize_t r = recv(sl->fd, &b, 1, MSG_DONTWAIT);
        if (r == 1 && b == 'K') {
          sl->got = 1;
          established++;
          inflight--;
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      }
    lose:
      if (sl->got) established--;
      else inflight--;
      lost++;
      epoll_ctl(ep, EPOLL_CTL_DEL, sl->fd, NULL);
      close(sl->fd);
      sl->fd = -1;
    }
    if (quit) break;
  }
  for (int i = 0; i < n; i++)
    if (s[i].fd >= 0) close_reset(s[i].fd);
  printf("{\"event\":\"closed\",\"established\":%d,\"lost\":%d}\n", established, lost);
  return 0;
}

/* ---- http: keep-alive GETs, latency histogram ---- */

#define HIST_US 1000000

struct hconn {
  int fd;
  int up;
  size_t hlen;     /* header bytes buffered */
  long remaining;  /* body bytes still to come, -1 while in headers */
  int64_t started;
  char head[4096];
};

static long parse_content_length(const char *h, size_t len) {
  for (size_t i = 0; i + 16 < len; i++) {
    if ((h[i] == '\n') && strncasecmp(h + i + 1, "content-length:", 15) == 0) return atol(h + i + 16);
  }
  return -1;
}

static int run_http(int argc, char **argv) {
  struct client_common cc;
  client_setup(&cc, argc, argv, NULL);
  char req[512];
  int rl = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", arg(argc, argv, "--path", "/100"),
                    arg(argc, argv, "--host", "bench.test"));
  int n = atoi(arg(argc, argv, "--connections", "50"));
  int64_t warm = atoll(arg(argc, argv, "--warmup-ms", "300")) * 1000000;
  int64_t dur = atoll(arg(argc, argv, "--duration-ms", "1000")) * 1000000;
  int cpu_pid = atoi(arg(argc, argv, "--cpu-pid", "0"));
  double cpu0 = 0;
  uint32_t *hist = calloc(HIST_US, sizeof *hist);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct hconn *c = calloc((size_t)n, sizeof *c);
  for (int i = 0; i < n; i++) c[i].fd = start_connect(ep, &cc, &c[i]);
  int64_t start = now_ns(), warm_end = start + warm, end = warm_end + dur, t0 = 0, now = start;
  uint64_t done = 0, done0 = 0, errors = 0;
  struct epoll_event events[EVENTS];
  while (now < end && errors < 1000) {
    int k = epoll_wait(ep, events, EVENTS, wait_ms(!t0 ? warm_end : end));
    now = now_ns();
    for (int i = 0; i < k; i++) {
      struct hconn *h = events[i].data.ptr;
      if (h->fd < 0) continue;
      if (!h->up) {
        if (!connected_ok(h->fd)) goto fail;
        h->up = 1;
        epoll_mod(ep, h->fd, EPOLLIN, h);
        goto next_request;
      }
      ssize_t r = 1;
      for (;;) {
        if (h->remaining < 0) {
          r = recv(h->fd, h->head + h->hlen, sizeof h->head - h->hlen, MSG_DONTWAIT);
          if (r <= 0) break;
          h->hlen += (size_t)r;
          char *e = memmem(h->head, h->hlen, "\r\n\r\n", 4);
          if (!e) {
            if (h->hlen == sizeof h->head) goto fail;
            continue;
          }
          if (strncmp(h->head, "HTTP/1.1 200", 12) != 0) goto fail;
          long cl = parse_content_length(h->head, (size_t)(e - h->head) + 2);
          if (cl < 0) goto fail;
          h->remaining = cl - (long)(h->hlen - (size_t)(e + 4 - h->head));
        } else if (h->remaining > 0) {
          size_t want = h->remaining > 65536 ? 65536 : (size_t)h->remaining;
          r = recv(h->fd, NULL, want, MSG_TRUNC | MSG_DONTWAIT);
          if (r <= 0) break;
          h->remaining -= r;
        }
        if (h->remaining == 0) {
          if (t0 && now < end) {
            int64_t us = (now - h->started) / 1000;
            hist[us >= HIST_US ? HIST_US - 1 : us]++;
          }
          done++;
          goto next_request;
        }
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    fail:
      errors++;
      epoll_ctl(ep, EPOLL_CTL_DEL, h->fd, NULL);
      close(h->fd);
      memset(h, 0, sizeof *h);
      h->fd = start_connect(ep, &cc, h);
      continue;
    next_request:
      h->hlen = 0;
      h->remaining = -1;
      h->started = now_ns();
      if (send_all_small(h->fd, req, (size_t)rl) < 0) goto fail;
    }
    if (!t0 && now >= warm_end) t0 = now, done0 = done, cpu0 = cpu_seconds(cpu_pid);
  }
  double cpu1 = cpu_seconds(cpu_pid);
  uint64_t total = 0, p50 = 0, p99 = 0, acc = 0;
  for (int i = 0; i < HIST_US; i++) total += hist[i];
  for (int i = 0; i < HIST_US && total; i++) {
    acc += hist[i];
    if (!p50 && acc * 2 >= total) p50 = (uint64_t)i + 1;
    if (!p99 && acc * 100 >= total * 99) {
      p99 = (uint64_t)i + 1;
      break;
    }
  }
  for (int i = 0; i < n; i++)
    if (c[i].fd >= 0) close_reset(c[i].fd);
  printf("{\"requests\":%llu,\"seconds\":%.6f,\"p50Us\":%llu,\"p99Us\":%llu,\"errors\":%llu,"
         "\"cpuSeconds\":%.3f}\n",
         (unsigned long long)(done - done0), (double)(now - t0) / 1e9, (unsigned long long)p50,
         (unsigned long long)p99, (unsigned long long)errors, cpu1 - cpu0);
  return 0;
}
