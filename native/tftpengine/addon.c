// tftpengine's N-API surface: JS creates an engine of N threads, hands it admitted transfers
// (a socket is opened here, bound to the request's local address and connected to the client),
// feeds it chunks of ready DATA packets (views of SharedArrayBuffers, kept alive by a reference
// until the transfer lets go), and hears back through one threadsafe function: "need chunk",
// "answered", "end", log lines. Counters go straight into the shared Float64Arrays JS sums.
#define _GNU_SOURCE
#include "engine.h"
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void counter_add(thread_t *th, int k, double n) {
  th->counters[th->eng->slots[k]] += n;
}

void engine_emit(engine_t *eng, event_t *ev) {
  ev->next = NULL;
  pthread_mutex_lock(&eng->lock);
  if (eng->events_tail) eng->events_tail->next = ev;
  else eng->events = ev;
  eng->events_tail = ev;
  bool call = !eng->scheduled;
  eng->scheduled = true;
  pthread_mutex_unlock(&eng->lock);
  if (call) napi_call_threadsafe_function(eng->tsfn, NULL, napi_tsfn_nonblocking);
}

static napi_value throw_msg(napi_env env, const char *what, int err) {
  char text[200];
  if (err) snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  else snprintf(text, sizeof text, "%s", what);
  napi_throw_error(env, NULL, text);
  return NULL;
}

/** Delivers queued events to JS (or, without an env, only frees them). */
static void deliver(napi_env env, engine_t *eng) {
  pthread_mutex_lock(&eng->lock);
  event_t *ev = eng->events;
  eng->events = eng->events_tail = NULL;
  eng->scheduled = false;
  pthread_mutex_unlock(&eng->lock);
  napi_value fn = NULL, undef = NULL;
  if (env && eng->on_event) {
    napi_get_reference_value(env, eng->on_event, &fn);
    napi_get_undefined(env, &undef);
  }
  while (ev) {
    event_t *next = ev->next;
    if (env && ev->type == EV_RELEASE) {
      if (ev->ref) napi_delete_reference(env, ev->ref);
    } else if (env && fn) {
      napi_value argv[10];
      napi_create_int32(env, ev->type, &argv[0]);
      napi_create_int32(env, ev->thread, &argv[1]);
      napi_create_uint32(env, ev->id, &argv[2]);
      napi_create_double(env, (double)ev->index, &argv[3]);
      napi_create_int32(env, ev->type == EV_LOG ? ev->level : ev->outcome, &argv[4]);
      napi_create_double(env, ev->packets, &argv[5]);
      napi_create_double(env, ev->bytes, &argv[6]);
      napi_create_double(env, ev->retrans, &argv[7]);
      napi_create_double(env, ev->duration_ms, &argv[8]);
      napi_create_string_utf8(env, ev->text, NAPI_AUTO_LENGTH, &argv[9]);
      napi_value result;
      if (napi_call_function(env, undef, fn, 10, argv, &result) == napi_pending_exception) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        napi_fatal_exception(env, err);
      }
    }
    free(ev);
    ev = next;
  }
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)data;
  deliver(env, context);
}

static void finalize_engine(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  engine_t *eng = data;
  deliver(NULL, eng);
  pthread_mutex_destroy(&eng->lock);
  free(eng->threads);
  free(eng);
}

static engine_t *engine_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not a tftp engine");
    return NULL;
  }
  return p;
}

static bool typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &off) != napi_ok) return false;
  return type == want && *data != NULL;
}

// create(counters: Float64Array[], slots: Int32Array, running: Int32Array, tuning: Float64Array, onEvent)
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) return throw_msg(env, "create(counters, slots, running, tuning, onEvent)", 0);
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || n < 1 || n > 64) return throw_msg(env, "counters: an array of 1-64 Float64Arrays", 0);
  int32_t *slots;
  size_t nslots;
  if (!typed(env, argv[1], napi_int32_array, (void **)&slots, &nslots) || nslots != K_COUNT) return throw_msg(env, "slots: an Int32Array of the counter slots", 0);
  int32_t *running;
  size_t nrun;
  if (!typed(env, argv[2], napi_int32_array, (void **)&running, &nrun) || nrun < 1) return throw_msg(env, "running: an Int32Array", 0);
  double *tun;
  size_t ntun;
  if (!typed(env, argv[3], napi_float64_array, (void **)&tun, &ntun) || ntun != 6) return throw_msg(env, "tuning: a Float64Array of 6", 0);

  engine_t *eng = calloc(1, sizeof *eng);
  if (!eng) return throw_msg(env, "out of memory", 0);
  eng->threads = calloc(n, sizeof *eng->threads);
  if (!eng->threads) {
    free(eng);
    return throw_msg(env, "out of memory", 0);
  }
  pthread_mutex_init(&eng->lock, NULL);
  eng->nthreads = (int)n;
  for (int k = 0; k < K_COUNT; k++) eng->slots[k] = slots[k];
  eng->running = running;
  napi_create_reference(env, argv[2], 1, &eng->running_ref);
  eng->tuning = (tuning_t){
    .retries = (int)tun[0],
    .max_stall_ns = (int64_t)(tun[1] * 1e6),
    .first_ack_ns = (int64_t)(tun[2] * 1e6),
    .first_resends = (int)tun[3],
    .busy_poll_ns = (int64_t)(tun[4] * 1e3),
    .busy_poll_max = (int)tun[5],
  };
  for (uint32_t i = 0; i < n; i++) {
    napi_value c;
    double *counters;
    size_t len;
    napi_get_element(env, argv[0], i, &c);
    bool fits = typed(env, c, napi_float64_array, (void **)&counters, &len);
    for (int k = 0; fits && k < K_COUNT; k++) fits = slots[k] >= 0 && (size_t)slots[k] < len;
    if (!fits) {
      free(eng->threads);
      free(eng);
      return throw_msg(env, "counters: each a Float64Array of the counter slots", 0);
    }
    napi_create_reference(env, c, 1, &eng->counter_refs[i]);
    thread_t *th = &eng->threads[i];
    th->eng = eng;
    th->index = (int)i;
    th->counters = counters;
    th->next_scan = INT64_MAX;
    th->ep = epoll_create1(EPOLL_CLOEXEC);
    th->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&th->lock, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (th->ep < 0 || th->wake < 0 || epoll_ctl(th->ep, EPOLL_CTL_ADD, th->wake, &ev) < 0) return throw_msg(env, "tftp engine: epoll", errno);
  }
  napi_value name;
  napi_create_string_utf8(env, "tftpengine", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[4], 1, &eng->on_event);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, eng, finalize_engine, eng, call_js, &eng->tsfn) != napi_ok) return throw_msg(env, "tftp engine: threadsafe function", 0);
  // The listening sockets keep the process alive, not the engine.
  napi_unref_threadsafe_function(env, eng->tsfn);
  for (uint32_t i = 0; i < n; i++) {
    thread_t *th = &eng->threads[i];
    if (pthread_create(&th->tid, NULL, thread_main, th) != 0) return throw_msg(env, "tftp engine: pthread_create", errno);
    th->started = true;
  }
  napi_value out;
  napi_create_external(env, eng, NULL, NULL, &out);
  return out;
}

static bool get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok && len > 0 && len < cap - 1;
}

static int thread_arg(napi_env env, engine_t *eng, napi_value v) {
  int32_t i = -1;
  if (napi_get_value_int32(env, v, &i) != napi_ok || i < 0 || i >= eng->nthreads) return -1;
  return i;
}

/** Opens a UDP socket bound to local (port 0: a fresh TID) and connected to peer:port; returns the fd or -errno. */
static int open_socket(const char *local, const char *peer, int port, const char **step) {
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *la = NULL, *pa = NULL;
  char portstr[8];
  snprintf(portstr, sizeof portstr, "%d", port);
  *step = "getaddrinfo";
  if (getaddrinfo(local, "0", &hints, &la) != 0) return -EINVAL;
  hints.ai_family = la->ai_family;
  if (getaddrinfo(peer, portstr, &hints, &pa) != 0) {
    freeaddrinfo(la);
    return -EINVAL;
  }
  if (pa->ai_family == AF_INET6) {
    // A link-local peer without a scope takes the scope of the address it wrote to.
    struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)pa->ai_addr;
    if (p6->sin6_scope_id == 0) p6->sin6_scope_id = ((struct sockaddr_in6 *)la->ai_addr)->sin6_scope_id;
  }
  int err = 0;
  int fd = socket(la->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  *step = "socket";
  if (fd < 0) err = errno;
  else if ((*step = "bind", bind(fd, la->ai_addr, la->ai_addrlen) < 0)) err = errno;
  else if ((*step = "connect", connect(fd, pa->ai_addr, pa->ai_addrlen) < 0)) err = errno;
  freeaddrinfo(la);
  freeaddrinfo(pa);
  if (err) {
    if (fd >= 0) close(fd);
    return -err;
  }
  return fd;
}

// start(eng, thread, id, local, peer, port, blksize, windowsize, timeoutMs, oack|null, lastBlock (-1: unknown), chunkBlocks)
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 12) return throw_msg(env, "start: 12 arguments", 0);
  engine_t *eng = engine_of(env, argv[0]);
  if (!eng) return NULL;
  if (eng->closed) return throw_msg(env, "tftp engine closed", 0);
  int th = thread_arg(env, eng, argv[1]);
  uint32_t id;
  char local[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], peer[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int32_t port, blksize, windowsize, chunk_blocks;
  double timeout_ms, last_block;
  if (th < 0 || napi_get_value_uint32(env, argv[2], &id) != napi_ok || !get_string(env, argv[3], local, sizeof local) || !get_string(env, argv[4], peer, sizeof peer) ||
      napi_get_value_int32(env, argv[5], &port) != napi_ok || napi_get_value_int32(env, argv[6], &blksize) != napi_ok || napi_get_value_int32(env, argv[7], &windowsize) != napi_ok ||
      napi_get_value_double(env, argv[8], &timeout_ms) != napi_ok || napi_get_value_double(env, argv[10], &last_block) != napi_ok || napi_get_value_int32(env, argv[11], &chunk_blocks) != napi_ok ||
      port < 0 || port > 65535 || blksize < 8 || windowsize < 1 || chunk_blocks < 1 || timeout_ms < 1)
    return throw_msg(env, "start: bad arguments", 0);
  const char *step = NULL;
  int fd = open_socket(local, peer, port, &step);
  if (fd < 0) {
    char what[64];
    snprintf(what, sizeof what, "%s", step);
    return throw_msg(env, what, -fd);
  }
  transfer_t *t = calloc(1, sizeof *t);
  if (!t) {
    close(fd);
    return throw_msg(env, "out of memory", 0);
  }
  napi_valuetype vt;
  napi_typeof(env, argv[9], &vt);
  if (vt != napi_null && vt != napi_undefined) {
    uint8_t *data;
    size_t len;
    if (!typed(env, argv[9], napi_uint8_array, (void **)&data, &len) || len == 0 || !(t->oack = malloc(len))) {
      close(fd);
      free(t);
      return throw_msg(env, "start: oack must be a non-empty Uint8Array or null", 0);
    }
    memcpy(t->oack, data, len);
    t->oack_len = len;
  }
  t->id = id;
  t->fd = fd;
  t->blksize = blksize;
  t->windowsize = windowsize;
  t->chunk_blocks = chunk_blocks;
  t->timeout_ns = (int64_t)(timeout_ms * 1e6);
  t->last_block = last_block < 0 ? INT64_MAX : (int64_t)last_block;
  t->acked = t->oack ? -1 : 0;
  t->retries_left = eng->tuning.retries;
  t->first_resends_left = eng->tuning.first_resends;
  t->started = now_ns();
  msg_t *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    free(t->oack);
    free(t);
    return throw_msg(env, "out of memory", 0);
  }
  m->type = MSG_START;
  m->t = t;
  t->th = &eng->threads[th];
  thread_post(&eng->threads[th], m);
  return NULL;
}

// chunk(eng, thread, id, index, packets: Uint8Array, count, final)
static napi_value chunk(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) return throw_msg(env, "chunk: 7 arguments", 0);
  engine_t *eng = engine_of(env, argv[0]);
  if (!eng || eng->closed) return NULL;
  int th = thread_arg(env, eng, argv[1]);
  uint32_t id;
  double index, count;
  bool final;
  uint8_t *data;
  size_t len;
  if (th < 0 || napi_get_value_uint32(env, argv[2], &id) != napi_ok || napi_get_value_double(env, argv[3], &index) != napi_ok || !typed(env, argv[4], napi_uint8_array, (void **)&data, &len) ||
      napi_get_value_double(env, argv[5], &count) != napi_ok || napi_get_value_bool(env, argv[6], &final) != napi_ok || count < 1)
    return throw_msg(env, "chunk: bad arguments", 0);
  msg_t *m = calloc(1, sizeof *m);
  if (!m) return throw_msg(env, "out of memory", 0);
  m->type = MSG_CHUNK;
  m->id = id;
  m->chunk = (chunk_t){.index = (int64_t)index, .data = data, .len = len, .count = (int64_t)count, .final = final};
  napi_create_reference(env, argv[4], 1, &m->chunk.ref);
  thread_post(&eng->threads[th], m);
  return NULL;
}

// message(eng, thread, type, id, text, quiet): chunk errors, repeated requests and aborts.
static napi_value message(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return throw_msg(env, "message: 6 arguments", 0);
  engine_t *eng = engine_of(env, argv[0]);
  if (!eng || eng->closed) return NULL;
  int th = thread_arg(env, eng, argv[1]);
  int32_t type;
  uint32_t id;
  bool quiet = false;
  msg_t *m = calloc(1, sizeof *m);
  if (!m) return throw_msg(env, "out of memory", 0);
  size_t len;
  if (th < 0 || napi_get_value_int32(env, argv[2], &type) != napi_ok || (type != MSG_CHUNK_ERROR && type != MSG_AGAIN && type != MSG_ABORT) || napi_get_value_uint32(env, argv[3], &id) != napi_ok ||
      napi_get_value_string_utf8(env, argv[4], m->text, sizeof m->text, &len) != napi_ok || napi_get_value_bool(env, argv[5], &quiet) != napi_ok) {
    free(m);
    return throw_msg(env, "message: bad arguments", 0);
  }
  m->type = type;
  m->id = id;
  m->quiet = quiet;
  thread_post(&eng->threads[th], m);
  return NULL;
}

// close(eng): every transfer left is aborted (clients told), threads joined, their last events delivered now.
static napi_value close_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  engine_t *eng = argc >= 1 ? engine_of(env, argv[0]) : NULL;
  if (!eng || eng->closed) return NULL;
  eng->closed = true;
  for (int i = 0; i < eng->nthreads; i++) {
    thread_t *th = &eng->threads[i];
    __atomic_store_n(&th->stop, true, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t w = write(th->wake, &one, sizeof one);
    (void)w;
  }
  for (int i = 0; i < eng->nthreads; i++) {
    thread_t *th = &eng->threads[i];
    if (th->started) pthread_join(th->tid, NULL);
    if (th->ep >= 0) close(th->ep);
    if (th->wake >= 0) close(th->wake);
    pthread_mutex_destroy(&th->lock);
  }
  deliver(env, eng);
  for (int i = 0; i < eng->nthreads; i++) napi_delete_reference(env, eng->counter_refs[i]);
  napi_delete_reference(env, eng->running_ref);
  napi_delete_reference(env, eng->on_event);
  eng->on_event = NULL;
  napi_release_threadsafe_function(eng->tsfn, napi_tsfn_release);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
    {"chunk", NULL, chunk, NULL, NULL, NULL, napi_default, NULL},
    {"message", NULL, message, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, close_engine, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
