/*
 * N-API surface of edge46's native addon (C, NAPI_VERSION 8, no C++ wrapper):
 *   abiVersion                 number, bumped whenever this surface changes
 *   new Pump(threads, onDone)  onDone(id, toBackend, toClient, end, errno) on the JS thread
 *   pump.add(clientFd, backendFd, clientHead, backendHead, idleMs, counters: Float64Array(2)) → id
 *   pump.abort(id)             reset both sides; completion arrives with end = aborted
 *   pump.close()               reset every pair without completions; joins the workers
 *   freebindSocket(4 | 6)      a non-blocking, close-on-exec TCP socket fd with IP_FREEBIND set
 *
 * Lifetimes: the threadsafe function is referenced only while pairs are active, so idle pumps never
 * keep the process alive. The environment cleanup hook is registered after the threadsafe function is
 * created, so it runs before Node's own cleanup of that function (hooks run last-in first-out) and the
 * workers are joined while the function they call is still valid. An atexit handler resets the pairs of
 * pumps still running when the process exits (process.exit()), so peers see RST, never a clean FIN on a
 * truncated stream.
 */
#define _GNU_SOURCE
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pump.h"

#define ABI_VERSION 1

#ifndef IP_FREEBIND
#define IP_FREEBIND 15
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

typedef struct pump_obj {
  napi_env env;
  napi_threadsafe_function tsfn;
  pump_t *pump; /* NULL once stopped; guarded by registry_mu */
  size_t active; /* JS thread only */
  int refs;      /* the JS wrapper + the threadsafe function; JS thread only */
  int hooked;
  struct pump_obj *prev, *next; /* registry of running pumps */
} pump_obj;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pump_obj *registry;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void stop_all_at_exit(void) {
  pthread_mutex_lock(&registry_mu);
  for (pump_obj *o = registry; o; o = o->next) {
    pump_destroy(o->pump, NULL, NULL); /* no JS left to release the counters' references */
    o->pump = NULL;
  }
  registry = NULL;
  pthread_mutex_unlock(&registry_mu);
}

static void register_atexit(void) {
  atexit(stop_all_at_exit);
}

static void drop_counters_ref(void *ctx, void *user) {
  napi_delete_reference((napi_env)ctx, (napi_ref)user);
}

/* Returns 1 if this call stopped the pump. On the JS thread. */
static int pump_obj_stop(pump_obj *o) {
  pthread_mutex_lock(&registry_mu);
  pump_t *p = o->pump;
  if (p) {
    if (o->prev) o->prev->next = o->next;
    else registry = o->next;
    if (o->next) o->next->prev = o->prev;
    o->prev = o->next = NULL;
    pump_destroy(p, drop_counters_ref, o->env);
    o->pump = NULL;
  }
  pthread_mutex_unlock(&registry_mu);
  return p != NULL;
}

static void pump_obj_unref(pump_obj *o) {
  if (--o->refs == 0) free(o);
}

/* ---- errors ---- */

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(err);
  if (n) return n;
#endif
  switch (err) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, num, sys;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

#define CHECK(env, call)                                    \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error((env), NULL, "edge46 native: " #call); \
      return NULL;                                          \
    }                                                       \
  } while (0)

/* ---- completion: worker thread → JS thread ---- */

static void on_done_worker(void *ctx, const pump_done_t *done) {
  pump_obj *o = ctx;
  pump_done_t *copy = malloc(sizeof *copy);
  if (!copy) return; /* the JS side cannot learn of this pair's end; nothing better to do */
  *copy = *done;
  /* The only N-API call a worker makes. The queue is unbounded, so this never blocks. */
  if (napi_call_threadsafe_function(o->tsfn, copy, napi_tsfn_nonblocking) != napi_ok) free(copy);
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  pump_obj *o = ctx;
  pump_done_t *d = data;
  /* The worker is done with the counters; the JS object may go now. */
  if (env) napi_delete_reference(env, d->user);
  if (env && cb) {
    if (o->active > 0 && --o->active == 0 && o->pump) napi_unref_threadsafe_function(env, o->tsfn);
    napi_value argv[5], undefined;
    napi_create_double(env, (double)d->id, &argv[0]);
    napi_create_double(env, (double)d->to_backend, &argv[1]);
    napi_create_double(env, (double)d->to_client, &argv[2]);
    napi_create_int32(env, d->end, &argv[3]);
    napi_create_int32(env, d->err, &argv[4]);
    napi_get_undefined(env, &undefined);
    if (napi_call_function(env, undefined, cb, 5, argv, NULL) == napi_pending_exception) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
  free(d);
}

static void env_cleanup(void *arg);

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  pump_obj_unref(data);
}

static void wrap_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  pump_obj *o = data;
  /* Unreachable from JS, so nobody could abort or hear about its pairs: stop it. */
  if (pump_obj_stop(o)) {
    if (o->hooked) napi_remove_env_cleanup_hook(env, env_cleanup, o);
    o->hooked = 0;
    napi_release_threadsafe_function(o->tsfn, napi_tsfn_release);
  }
  pump_obj_unref(o);
}

static void env_cleanup(void *arg) {
  pump_obj *o = arg;
  o->hooked = 0;
  pump_obj_stop(o);
}

/* ---- Pump class ---- */

static pump_obj *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "not a Pump");
    return NULL;
  }
  return data;
}

static napi_value pump_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, name;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t threads = 1;
  napi_valuetype t;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &threads) != napi_ok ||
      napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "Pump(threads: number, onDone: function)");
    return NULL;
  }
  pump_obj *o = calloc(1, sizeof *o);
  if (!o) return throw_errno(env, "calloc", ENOMEM);
  o->env = env;
  CHECK(env, napi_create_string_utf8(env, "edge46-splice", NAPI_AUTO_LENGTH, &name));
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, o, tsfn_finalize, o, call_js, &o->tsfn) !=
      napi_ok) {
    free(o);
    napi_throw_error(env, NULL, "edge46 native: napi_create_threadsafe_function failed");
    return NULL;
  }
  o->refs = 1; /* the threadsafe function's */
  napi_unref_threadsafe_function(env, o->tsfn);
  int err = pump_create(&o->pump, threads, on_done_worker, o);
  if (err) {
    napi_release_threadsafe_function(o->tsfn, napi_tsfn_abort);
    return throw_errno(env, "pump_create", err);
  }
  pthread_once(&atexit_once, register_atexit);
  pthread_mutex_lock(&registry_mu);
  o->next = registry;
  if (registry) registry->prev = o;
  registry = o;
  pthread_mutex_unlock(&registry_mu);
  if (napi_add_env_cleanup_hook(env, env_cleanup, o) == napi_ok) o->hooked = 1;
  if (napi_wrap(env, self, o, wrap_finalize, NULL, NULL) != napi_ok) {
    if (o->hooked) napi_remove_env_cleanup_hook(env, env_cleanup, o);
    o->hooked = 0;
    pump_obj_stop(o);
    napi_release_threadsafe_function(o->tsfn, napi_tsfn_abort);
    napi_throw_error(env, NULL, "edge46 native: napi_wrap failed");
    return NULL;
  }
  o->refs++;
  return self;
}

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok) return 0;
  return type == napi_uint8_array;
}

static napi_value pump_add_js(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  pump_obj *o = unwrap_this(env, info, &argc, argv);
  if (!o) return NULL;
  int32_t cfd, bfd;
  uint32_t idle_ms;
  void *chead, *bhead, *counters;
  size_t clen, blen, ncounters;
  napi_typedarray_type ctype;
  napi_value ab;
  size_t off;
  bool is_ta = false;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &cfd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &bfd) != napi_ok || !get_bytes(env, argv[2], &chead, &clen) ||
      !get_bytes(env, argv[3], &bhead, &blen) || napi_get_value_uint32(env, argv[4], &idle_ms) != napi_ok ||
      napi_is_typedarray(env, argv[5], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[5], &ctype, &ncounters, &counters, &ab, &off) != napi_ok ||
      ctype != napi_float64_array || ncounters < 2) {
    napi_throw_type_error(env, NULL,
                          "add(clientFd, backendFd, clientHead: Uint8Array, backendHead: Uint8Array, idleMs, "
                          "counters: Float64Array(2))");
    return NULL;
  }
  if (!o->pump) {
    napi_throw_error(env, "ERR_PUMP_CLOSED", "the pump is closed");
    return NULL;
  }
  /* The worker writes into the counters until the completion: keep them alive whatever JS does. */
  napi_ref ref;
  CHECK(env, napi_create_reference(env, argv[5], 1, &ref));
  uint64_t id;
  int err = pump_add(o->pump, cfd, bfd, chead, clen, bhead, blen, idle_ms, counters, ref, &id);
  if (err) {
    napi_delete_reference(env, ref);
    return throw_errno(env, "pump_add", err);
  }
  if (o->active++ == 0) napi_ref_threadsafe_function(env, o->tsfn);
  napi_value result;
  CHECK(env, napi_create_double(env, (double)id, &result));
  return result;
}

static napi_value pump_abort_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  pump_obj *o = unwrap_this(env, info, &argc, argv);
  if (!o) return NULL;
  double id;
  if (argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok || !(id >= 1)) {
    napi_throw_type_error(env, NULL, "abort(id: number)");
    return NULL;
  }
  if (o->pump) pump_abort(o->pump, (uint64_t)id);
  return NULL;
}

static napi_value pump_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  pump_obj *o = unwrap_this(env, info, &argc, NULL);
  if (!o) return NULL;
  if (pump_obj_stop(o)) {
    if (o->hooked) napi_remove_env_cleanup_hook(env, env_cleanup, o);
    o->hooked = 0;
    if (o->active > 0) napi_unref_threadsafe_function(env, o->tsfn);
    o->active = 0;
    napi_release_threadsafe_function(o->tsfn, napi_tsfn_release);
  }
  return NULL;
}

/* ---- freebind ---- */

static napi_value freebind_socket_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t family = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6)) {
    napi_throw_type_error(env, NULL, "freebindSocket(family: 4 | 6)");
    return NULL;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  /* IP_FREEBIND at SOL_IP also governs IPv6 sockets (ipv6_setsockopt passes SOL_IP to the IPv4 code,
   * and IPv6 bind checks the same flag); IPV6_FREEBIND (Linux 4.15+) sets that same flag. */
  if (setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt(IP_FREEBIND)", err);
  }
  CHECK(env, napi_create_int32(env, fd, &result));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"add", NULL, pump_add_js, NULL, NULL, NULL, napi_default_method, NULL},
      {"abort", NULL, pump_abort_js, NULL, NULL, NULL, napi_default_method, NULL},
      {"close", NULL, pump_close_js, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls, fn, abi;
  CHECK(env, napi_define_class(env, "Pump", NAPI_AUTO_LENGTH, pump_new, NULL, 3, methods, &cls));
  CHECK(env, napi_create_function(env, "freebindSocket", NAPI_AUTO_LENGTH, freebind_socket_js, NULL, &fn));
  CHECK(env, napi_create_int32(env, ABI_VERSION, &abi));
  napi_property_descriptor props[] = {
      {"Pump", NULL, NULL, NULL, NULL, cls, napi_enumerable, NULL},
      {"freebindSocket", NULL, NULL, NULL, NULL, fn, napi_enumerable, NULL},
      {"abiVersion", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, 3, props));
  return exports;
}
