// One read transfer's data phase, the same state machine as server/tftp/transfer.ts: the OACK or
// block 1 first, then windows of DATA (RFC 1350 lockstep at windowsize 1, RFC 7440 above), block
// numbers absolute here and wrapped to 16 bits only on the wire, retransmission on timeout with
// the same retry and stall caps, and a quiet give-up for a request never answered.
#define _GNU_SOURCE
#include "engine.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OP_DATA 3
#define OP_ACK 4
#define OP_ERROR 5
/** Consecutive answers within the busy-poll budget before a client is polled for. */
#define FAST_STREAK 2
/** A client's repeated RRQ gets the first packet again at most this often. */
#define RESEND_ON_REQUEST_NS (200LL * 1000000)
#define MS (1000000LL)

static void pump(transfer_t *t);
static void finish(transfer_t *t, int outcome, const char *reason);

static void log_line(transfer_t *t, int level, const char *text) {
  event_t *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  ev->type = EV_LOG;
  ev->thread = t->th->index;
  ev->id = t->id;
  ev->level = level;
  snprintf(ev->text, sizeof ev->text, "%.*s", (int)sizeof ev->text - 1, text);
  engine_emit(t->th->eng, ev);
}

static void send_pkt(transfer_t *t, const uint8_t *p, size_t n) {
  // A failed send is a lost packet: the retransmission timer recovers (as with Node's dgram, whose
  // send errors without a callback are dropped). A client gone away shows up on the next recv.
  (void)send(t->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void send_error(transfer_t *t, int code, const char *message) {
  uint8_t buf[4 + 201];
  size_t n = strnlen(message, 200);
  buf[0] = 0;
  buf[1] = OP_ERROR;
  buf[2] = (uint8_t)(code >> 8);
  buf[3] = (uint8_t)code;
  memcpy(buf + 4, message, n);
  buf[4 + n] = 0;
  send_pkt(t, buf, 5 + n);
}

static int64_t first_wait_ns(transfer_t *t) {
  const tuning_t *u = &t->th->eng->tuning;
  /* The waits double with each resend; the first plus its doublings add up to first_ack
     (1 + 2 + 4 + 8 parts for 3 resends): the JS engine's firstWaitMs. */
  int64_t ms = (u->first_ack_ns / MS) / (((int64_t)1 << (u->first_resends + 1)) - 1);
  int64_t to = t->timeout_ns / MS;
  if (to < ms) ms = to;
  if (ms < 1) ms = 1;
  return ms * MS;
}

/** Starts the timer unless it runs (the JS engine's `timer ??= setTimeout(…, firstWait)`). */
static void arm(transfer_t *t) {
  if (t->armed) return;
  t->armed = true;
  t->timer_ns = first_wait_ns(t);
  thread_set_deadline(t, t->th->now + t->timer_ns);
}

static void refresh(transfer_t *t) {
  if (t->armed) thread_set_deadline(t, t->th->now + t->timer_ns);
}

/** Returns the DATA packet for an absolute block, or NULL (and asks for its chunk) while not loaded. */
static const uint8_t *packet(transfer_t *t, int64_t abs, size_t *len);

static void request_next(transfer_t *t) {
  if (t->loading || t->failed_read || t->done) return;
  int64_t index = t->next_index;
  if (index * t->chunk_blocks + 1 > t->last_block) return;
  t->loading = true;
  event_t *ev = calloc(1, sizeof *ev);
  if (!ev) {
    t->loading = false;
    return;
  }
  ev->type = EV_NEED;
  ev->thread = t->th->index;
  ev->id = t->id;
  ev->index = index;
  engine_emit(t->th->eng, ev);
}

static const uint8_t *packet(transfer_t *t, int64_t abs, size_t *len) {
  int64_t index = (abs - 1) / t->chunk_blocks;
  for (int i = t->nheld - 1; i >= 0; i--) {
    chunk_t *c = &t->held[i];
    if (c->index != index) continue;
    // Sending from the newest chunk: fetch the next one now.
    if (i == t->nheld - 1) request_next(t);
    int64_t within = abs - index * t->chunk_blocks - 1;
    size_t stride = (size_t)t->blksize + 4;
    size_t start = (size_t)within * stride;
    if (within >= c->count || start + 4 > c->len) return NULL;
    size_t n = c->len - start < stride ? c->len - start : stride;
    *len = n;
    return c->data + start;
  }
  request_next(t);
  return NULL;
}

/** Lets go of chunks whose blocks are all acknowledged. */
static void release_upto(transfer_t *t, int64_t acked) {
  int drop = 0;
  while (drop < t->nheld && (t->held[drop].index + 1) * t->chunk_blocks <= acked) transfer_release_chunk(t->th, &t->held[drop++]);
  if (drop == 0) return;
  memmove(t->held, t->held + drop, (size_t)(t->nheld - drop) * sizeof *t->held);
  t->nheld -= drop;
}

void transfer_release_chunk(thread_t *th, chunk_t *c) {
  event_t *ev = calloc(1, sizeof *ev);
  if (!ev) return; // leaks one reference rather than crash; the engine's close frees what it can
  ev->type = EV_RELEASE;
  ev->thread = th->index;
  ev->ref = c->ref;
  c->ref = NULL;
  engine_emit(th->eng, ev);
}

static void sent_now(transfer_t *t) {
  thread_t *th = t->th;
  const tuning_t *u = &th->eng->tuning;
  if (u->busy_poll_ns <= 0) return;
  int64_t now = th->now;
  t->sent_at = now;
  if (t->fast_streak < FAST_STREAK) return;
  int running = __atomic_load_n(th->eng->running, __ATOMIC_RELAXED);
  if (th->live <= u->busy_poll_max && running <= u->busy_poll_max) th->poll_until = now + u->busy_poll_ns;
}

static void time_answer(transfer_t *t) {
  const tuning_t *u = &t->th->eng->tuning;
  if (u->busy_poll_ns <= 0 || t->sent_at == 0) return;
  t->fast_streak = t->th->now - t->sent_at <= u->busy_poll_ns ? t->fast_streak + 1 : 0;
}

/** Notes progress: the retry budget and the timer start over; the first one proves the client real. */
static void progress(transfer_t *t) {
  t->retries_left = t->th->eng->tuning.retries;
  t->last_progress = t->th->now;
  if (t->answered) {
    refresh(t);
    return;
  }
  t->answered = true;
  t->armed = true;
  t->timer_ns = t->timeout_ns;
  thread_set_deadline(t, t->th->now + t->timeout_ns);
  event_t *ev = calloc(1, sizeof *ev);
  if (!ev) return;
  ev->type = EV_ANSWERED;
  ev->thread = t->th->index;
  ev->id = t->id;
  engine_emit(t->th->eng, ev);
}

static void wait_for_read(transfer_t *t) {
  if (t->failed_read) {
    log_line(t, LOG_WARN, t->read_error);
    transfer_abort(t, "read error", false);
    return;
  }
  t->waiting_for_read = true;
}

static void pump(transfer_t *t) {
  int64_t limit = t->acked + t->windowsize;
  if (t->last_block < limit) limit = t->last_block;
  int64_t before = t->sent;
  while (t->sent < limit && !t->done) {
    int64_t next = t->sent + 1;
    size_t n = 0;
    const uint8_t *p = packet(t, next, &n);
    if (!p) {
      wait_for_read(t);
      break;
    }
    send_pkt(t, p, n);
    t->sent = next;
    counter_add(t->th, K_PACKETS, 1);
    counter_add(t->th, K_BYTES, (double)(n - 4));
    t->packets++;
    t->bytes += (double)(n - 4);
    if (next <= t->max_sent) {
      counter_add(t->th, K_RETRANS, 1);
      t->retrans++;
    } else {
      t->max_sent = next;
    }
  }
  if (t->sent > before && !t->done) {
    arm(t);
    sent_now(t);
  }
}

static void resend_first(transfer_t *t) {
  if (t->oack) {
    send_pkt(t, t->oack, t->oack_len);
    counter_add(t->th, K_RETRANS, 1);
    t->retrans++;
  } else {
    t->sent = 0;
    pump(t);
  }
}

void transfer_start(transfer_t *t) {
  t->first_sent_at = t->th->now;
  if (t->oack) {
    send_pkt(t, t->oack, t->oack_len);
    arm(t);
  } else {
    pump(t);
  }
}

static void on_ack(transfer_t *t, int wire) {
  if (t->acked < 0) {
    if (wire != 0) return; // only ACK 0 answers an OACK (RFC 2347 section 2)
    t->acked = 0;
    time_answer(t);
    progress(t);
    pump(t);
    return;
  }
  // An ACK that advances nothing is a duplicate and is ignored (sorcerer's apprentice).
  int64_t delta = (wire - t->acked) & 0xffff;
  if (delta == 0) {
    counter_add(t->th, K_DUP_ACKS, 1);
    return;
  }
  int64_t abs = t->acked + delta;
  if (abs > t->max_sent) return; // acknowledges nothing ever sent: bogus, or 65536 blocks stale
  t->acked = abs;
  time_answer(t);
  if (abs > t->sent) t->sent = abs;
  if (abs == t->last_block) {
    progress(t);
    finish(t, OUT_COMPLETED, "all blocks acknowledged");
    return;
  }
  if (abs < t->sent && abs >= t->rewind_guard) {
    // RFC 7440 section 4: an ACK inside the window means the client lost the next block.
    t->sent = abs;
    t->rewind_guard = abs + t->windowsize;
  }
  release_upto(t, abs);
  progress(t);
  pump(t);
}

/** Writes message as a JSON string literal (what JSON.stringify gives for text). */
static void json_quote(char *out, size_t cap, const uint8_t *s, size_t n) {
  size_t o = 0;
  if (cap < 3) return;
  out[o++] = '"';
  for (size_t i = 0; i < n && o + 8 < cap; i++) {
    uint8_t c = s[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = 0;
}

static void on_client_error(transfer_t *t, const uint8_t *buf, size_t len) {
  size_t end = 4;
  while (end < len && buf[end] != 0) end++;
  if (end > 4 + 200) end = 4 + 200;
  char quoted[TEXT_MAX - 32];
  json_quote(quoted, sizeof quoted, buf + 4, end - 4);
  char what[TEXT_MAX];
  snprintf(what, sizeof what, "client error %d: %s", (buf[2] << 8) | buf[3], quoted);
  if (t->acked < 0) {
    // Firmware asks for tsize, reads the OACK and aborts to allocate memory: normal.
    char line[TEXT_MAX + 64];
    snprintf(line, sizeof line, "tftp client ended transfer after option negotiation (%s)", what);
    log_line(t, LOG_DEBUG, line);
    finish(t, OUT_ABORTED, what);
  } else {
    finish(t, OUT_FAILED, what);
  }
}

void transfer_on_packet(transfer_t *t, const uint8_t *buf, ssize_t len) {
  if (t->done) return;
  int opcode = len >= 4 ? (buf[0] << 8) | buf[1] : -1;
  if (opcode == OP_ACK) return on_ack(t, (buf[2] << 8) | buf[3]);
  if (opcode == OP_ERROR) return on_client_error(t, buf, (size_t)len);
  counter_add(t->th, K_MALFORMED, 1);
  char line[96];
  snprintf(line, sizeof line, "tftp unexpected packet in transfer dropped (opcode %d, %zd bytes)", opcode, len);
  log_line(t, LOG_DEBUG, line);
}

void transfer_on_socket_error(transfer_t *t, int err) {
  char reason[TEXT_MAX];
  snprintf(reason, sizeof reason, "socket error: recv %s", strerror(err));
  finish(t, t->answered ? OUT_FAILED : OUT_UNANSWERED, reason);
}

void transfer_on_chunk(transfer_t *t, chunk_t *c) {
  if (t->done || c->index != t->next_index) {
    transfer_release_chunk(t->th, c);
    return;
  }
  if (t->nheld == t->held_cap) {
    int cap = t->held_cap ? t->held_cap * 2 : 4;
    chunk_t *h = realloc(t->held, (size_t)cap * sizeof *h);
    if (!h) {
      transfer_release_chunk(t->th, c);
      t->loading = false;
      transfer_on_chunk_error(t, "out of memory");
      return;
    }
    t->held = h;
    t->held_cap = cap;
  }
  t->held[t->nheld++] = *c;
  t->loading = false;
  t->next_index = c->index + 1;
  if (c->final) t->last_block = c->index * t->chunk_blocks + c->count;
  if (t->waiting_for_read) {
    t->waiting_for_read = false;
    pump(t);
  }
}

void transfer_on_chunk_error(transfer_t *t, const char *message) {
  t->loading = false;
  if (t->done) return;
  t->failed_read = true;
  snprintf(t->read_error, sizeof t->read_error, "tftp read failed: %s", message);
  if (t->waiting_for_read) {
    t->waiting_for_read = false;
    pump(t);
  }
}

void transfer_again(transfer_t *t) {
  int64_t now = t->th->now;
  if (t->done || t->answered || now - t->first_sent_at < RESEND_ON_REQUEST_NS) return;
  t->first_sent_at = now;
  resend_first(t);
}

void transfer_abort(transfer_t *t, const char *reason, bool quiet) {
  // A quiet abort pushes out a request nobody answered; one whose client has answered since (the
  // main thread has not heard yet) keeps going, and the main thread takes it back when it hears.
  if (t->done || (quiet && t->answered)) return;
  if (t->answered) send_error(t, 0, reason);
  finish(t, t->answered ? OUT_FAILED : OUT_UNANSWERED, reason);
}

void transfer_on_timeout(transfer_t *t) {
  if (t->done) return;
  const tuning_t *u = &t->th->eng->tuning;
  if (!t->answered) {
    if (t->first_resends_left <= 0) return finish(t, OUT_UNANSWERED, "the client never acknowledged the first packet");
    t->first_resends_left--;
    counter_add(t->th, K_TIMEOUTS, 1);
    resend_first(t);
    t->timer_ns *= 2;
    refresh(t);
    return;
  }
  if (t->retries_left <= 0 || t->th->now - t->last_progress >= u->max_stall_ns) {
    transfer_abort(t, "timed out", false);
    return;
  }
  t->retries_left--;
  counter_add(t->th, K_TIMEOUTS, 1);
  if (t->acked < 0) {
    send_pkt(t, t->oack, t->oack_len);
    counter_add(t->th, K_RETRANS, 1);
    t->retrans++;
  } else {
    // Resume from the last acknowledged block: resend the window, nothing more.
    t->sent = t->acked;
    t->rewind_guard = t->acked + t->windowsize;
    pump(t);
  }
  refresh(t);
}

static void finish(transfer_t *t, int outcome, const char *reason) {
  if (t->done) return;
  t->done = true;
  t->armed = false;
  thread_t *th = t->th;
  for (int i = 0; i < t->nheld; i++) transfer_release_chunk(th, &t->held[i]);
  t->nheld = 0;
  counter_add(th, outcome == OUT_COMPLETED ? K_COMPLETED : outcome == OUT_ABORTED ? K_ABORTED : outcome == OUT_UNANSWERED ? K_UNANSWERED : K_FAILED, 1);
  event_t *ev = calloc(1, sizeof *ev);
  if (ev) {
    ev->type = EV_END;
    ev->thread = th->index;
    ev->id = t->id;
    ev->outcome = outcome;
    ev->packets = t->packets;
    ev->bytes = t->bytes;
    ev->retrans = t->retrans;
    ev->duration_ms = (double)((t->th->now - t->started + MS / 2) / MS);
    snprintf(ev->text, sizeof ev->text, "%s", reason);
  }
  thread_forget(t);
  if (ev) engine_emit(th->eng, ev);
}
