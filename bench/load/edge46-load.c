/*
 * The benchmark's load side, in C so that it costs less than the proxy it measures (a copying Node client
 * saturates its own core first). Compiled by bench/load.ts with `cc -O2` at bench time.
 *
 *   serve --listen [::1]:P --id NAME [--http]     backend: prints "listening\n", runs until SIGTERM
 *   bulk  --connect H:P --hello F --streams N --dir down|up|both --warmup-ms W --duration-ms D
 *   rate  --connect H:P --hello F --concurrency C --warmup-ms W --duration-ms D
 *   idle  --connect H:P --hello F --count N --timeout-ms T   prints "ready\n", closes all on a stdin line
 *   http  --connect H:P --host NAME --path /P --connections C --warmup-ms W --duration-ms D
 *
 * Clients print one JSON line. A passthrough client first sends a captured ClientHello, then a command
 * line the backend acts on: SINK (read and drop), SRCE (send), BOTH, PING (64 bytes back, then FIN),
 * IDLE ("K" back, then hold), ECHO ("ID <name>\n", then echo until EOF). Sending uses sendfile from a
 * memfd and receiving recv(MSG_TRUNC): no copies on the load side. Every loop is bounded in time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MEMSZ (4 << 20)
#define EVENTS 512
#define MAXHELLO 65536

static int memfd = -1;
static volatile sig_atomic_t stopping = 0;

static void die(const char *what) {
  fprintf(stderr, "edge46-load: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  if (!def) {
    fprintf(stderr, "edge46-load: missing %s\n", name);
    exit(2);
  }
  return def;
}

static int has_flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void raise_nofile(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

/* "127.0.0.1:80" or "[::1]:80" */
static socklen_t parse_addr(const char *s, struct sockaddr_storage *out) {
  char host[128];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof host) {
    fprintf(stderr, "edge46-load: bad address %s\n", s);
    exit(2);
  }
  int port = atoi(colon + 1);
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  memset(out, 0, sizeof *out);
  if (host[0] == '[') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    host[strlen(host) - 1] = 0;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) die("inet_pton6");
    return sizeof *a;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)out;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a->sin_addr) != 1) die("inet_pton4");
  return sizeof *a;
}

static void make_memfd(void) {
  memfd = memfd_create("edge46-load", MFD_CLOEXEC);
  if (memfd < 0) die("memfd_create");
  if (ftruncate(memfd, MEMSZ) < 0) die("ftruncate");
  char *p = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (p == MAP_FAILED) die("mmap");
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < MEMSZ; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    p[i] = (char)x;
  }
  munmap(p, MEMSZ);
}

/* Sends from the memfd until EAGAIN or `budget` bytes; returns bytes sent, -1 on error. */
static ssize_t send_bulk(int fd, off_t *off, size_t budget) {
  size_t total = 0;
  while (total < budget) {
    if (*off >= MEMSZ) *off = 0;
    ssize_t n = sendfile(fd, memfd, off, (size_t)(MEMSZ - *off));
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    return total ? (ssize_t)total : -1;
  }
  return (ssize_t)total;
}

/* Drops what is readable until EAGAIN or `budget`; returns bytes, 0 on EOF (nothing read), -1 on error. */
static ssize_t sink(int fd, size_t budget, int *eof) {
  static char scratch[1 << 16];
  size_t total = 0;
  while (total < budget) {
    ssize_t n = recv(fd, scratch, sizeof scratch, MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (n == 0) {
      *eof = 1;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    return -1;
  }
  return (ssize_t)total;
}

static int new_socket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void close_reset(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  char *buf = malloc(MAXHELLO);
  *len = fread(buf, 1, MAXHELLO, f);
  fclose(f);
  return buf;
}

static void epoll_add(int ep, int fd, uint32_t events, void *ptr) {
  struct epoll_event ev = {.events = events, .data.ptr = ptr};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
}

static void epoll_mod(int ep, int fd, uint32_t events, void *ptr) {
  struct epoll_event ev = {.events = events, .data.ptr = ptr};
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* user+sys CPU seconds of process `pid` (all its threads) from /proc/PID/stat; 0 when pid is 0. */
static double cpu_seconds(int pid) {
  if (pid <= 0) return 0;
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  /* After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int wait_ms(int64_t until_ns) {
  int64_t d = (until_ns - now_ns()) / 1000000;
  return d < 0 ? 0 : d > 100 ? 100 : (int)d + 1;
}

#include "edge46-load-serve.h"
#include "edge46-load-clients.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: edge46-load serve|bulk|rate|idle|http ...\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  make_memfd();
  const char *mode = argv[1];
  if (strcmp(mode, "serve") == 0) return run_serve(argc, argv);
  if (strcmp(mode, "bulk") == 0) return run_bulk(argc, argv);
  if (strcmp(mode, "rate") == 0) return run_rate(argc, argv);
  if (strcmp(mode, "idle") == 0) return run_idle(argc, argv);
  if (strcmp(mode, "http") == 0) return run_http(argc, argv);
  fprintf(stderr, "edge46-load: unknown mode %s\n", mode);
  return 2;
}
