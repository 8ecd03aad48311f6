// One engine thread: an epoll loop over its transfers' connected sockets and an eventfd that
// JS rings when it posts a message (start, chunk, abort…). ACKs are read as they come, many per
// wakeup when the thread is busy; timers are deadlines scanned when the earliest one is due.
// Busy polling (epoll with a zero timeout for a bounded time after a send) mirrors busy-poll.ts.
#define _GNU_SOURCE
#include "engine.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256
/** Datagrams read from one socket per turn. One: a lockstep client has one ACK in flight, and a
 * second recv would almost always be a wasted syscall (epoll is level-triggered: more data waiting
 * is reported again next turn). */
#define READS_PER_TURN 1
/** The loop looks at its timers at least this often, however far the earliest deadline. */
#define MAX_SLEEP_MS 1000

static transfer_t **bucket_of(thread_t *th, uint32_t id) {
  return &th->buckets[id & (BUCKETS - 1)];
}

static transfer_t *find(thread_t *th, uint32_t id) {
  for (transfer_t *t = *bucket_of(th, id); t; t = t->bucket_next)
    if (t->id == id && !t->done) return t;
  return NULL;
}

void thread_set_deadline(transfer_t *t, int64_t at) {
  t->deadline = at;
  if (at < t->th->next_scan) t->th->next_scan = at;
}

void thread_post(thread_t *th, msg_t *m) {
  m->next = NULL;
  pthread_mutex_lock(&th->lock);
  bool was_empty = th->inbox == NULL;
  if (th->inbox_tail) th->inbox_tail->next = m;
  else th->inbox = m;
  th->inbox_tail = m;
  pthread_mutex_unlock(&th->lock);
  if (was_empty) {
    uint64_t one = 1;
    ssize_t w = write(th->wake, &one, sizeof one);
    (void)w;
  }
}

/** Takes a transfer off the loop: closes its socket (so epoll forgets it) and frees it after this turn. */
void thread_forget(transfer_t *t) {
  thread_t *th = t->th;
  transfer_t **p = bucket_of(th, t->id);
  while (*p && *p != t) p = &(*p)->bucket_next;
  if (*p) *p = t->bucket_next;
  if (t->all_prev) t->all_prev->all_next = t->all_next;
  else th->all = t->all_next;
  if (t->all_next) t->all_next->all_prev = t->all_prev;
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  th->live--;
  // Events of this turn may still point at it: freed once the turn is over.
  t->grave_next = th->graveyard;
  th->graveyard = t;
}

static void bury(thread_t *th) {
  while (th->graveyard) {
    transfer_t *t = th->graveyard;
    th->graveyard = t->grave_next;
    free(t->held);
    free(t->oack);
    free(t);
  }
}

static void adopt(thread_t *th, transfer_t *t) {
  t->th = th;
  t->bucket_next = *bucket_of(th, t->id);
  *bucket_of(th, t->id) = t;
  t->all_prev = NULL;
  t->all_next = th->all;
  if (th->all) th->all->all_prev = t;
  th->all = t;
  th->live++;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
  if (epoll_ctl(th->ep, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
    transfer_on_socket_error(t, errno);
    return;
  }
  counter_add(th, K_STARTED, 1);
  transfer_start(t);
}

static void handle(thread_t *th, msg_t *m) {
  if (m->type == MSG_START) return adopt(th, m->t);
  transfer_t *t = find(th, m->id);
  switch (m->type) {
    case MSG_CHUNK:
      if (t) transfer_on_chunk(t, &m->chunk);
      else transfer_release_chunk(th, &m->chunk);
      break;
    case MSG_CHUNK_ERROR:
      if (t) transfer_on_chunk_error(t, m->text);
      break;
    case MSG_AGAIN:
      if (t) transfer_again(t);
      break;
    case MSG_ABORT:
      if (t) transfer_abort(t, m->text, m->quiet);
      break;
  }
}

static void drain_inbox(thread_t *th) {
  uint64_t n;
  ssize_t r = read(th->wake, &n, sizeof n);
  (void)r;
  pthread_mutex_lock(&th->lock);
  msg_t *m = th->inbox;
  th->inbox = th->inbox_tail = NULL;
  pthread_mutex_unlock(&th->lock);
  while (m) {
    msg_t *next = m->next;
    handle(th, m);
    free(m);
    m = next;
  }
}

static void readable(transfer_t *t) {
  uint8_t buf[1024];
  for (int i = 0; i < READS_PER_TURN && !t->done; i++) {
    ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      transfer_on_socket_error(t, errno);
      return;
    }
    transfer_on_packet(t, buf, n > (ssize_t)sizeof buf ? (ssize_t)sizeof buf : n);
  }
}

static void run_timers(thread_t *th, int64_t now) {
  int64_t next = INT64_MAX;
  for (transfer_t *t = th->all, *after; t; t = after) {
    after = t->all_next;
    if (t->armed && t->deadline <= now) transfer_on_timeout(t);
    // A timeout may end it (forgotten: no longer on the list) or set a new deadline.
    if (!t->done && t->armed && t->deadline < next) next = t->deadline;
  }
  th->next_scan = next;
}

/** Aborts every transfer left (shutdown): clients that answered are told why. */
static void abort_all(thread_t *th) {
  while (th->all) transfer_abort(th->all, "server shutting down", false);
  bury(th);
}

void *thread_main(void *arg) {
  thread_t *th = arg;
  th->now = now_ns();
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int64_t now = now_ns();
    int timeout;
    bool polling = th->poll_until > now;
    if (polling) timeout = 0;
    else if (th->next_scan == INT64_MAX) timeout = MAX_SLEEP_MS;
    else {
      int64_t ms = (th->next_scan - now + 999999) / 1000000;
      timeout = ms < 0 ? 0 : ms > MAX_SLEEP_MS ? MAX_SLEEP_MS : (int)ms;
    }
    int n = epoll_wait(th->ep, evs, MAX_EVENTS, timeout);
    th->now = now_ns();
    if (polling) counter_add(th, K_BUSY_TURNS, 1);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) drain_inbox(th);
      else readable(evs[i].data.ptr);
    }
    if (__atomic_load_n(&th->stop, __ATOMIC_ACQUIRE)) {
      drain_inbox(th);
      abort_all(th);
      return NULL;
    }
    now = th->now;
    if (now >= th->next_scan) run_timers(th, now);
    bury(th);
  }
}
