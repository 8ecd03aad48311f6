// tftpengine: the data phase of admitted TFTP read transfers in C. Shared declarations of the
// engine (threads, messages in, events out) and of one transfer's state.
#ifndef TFTPENGINE_ENGINE_H
#define TFTPENGINE_ENGINE_H

#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

// Counter slots the engine bumps, in the order JS hands their indexes over (see native-engine.ts).
enum {
  K_STARTED, K_COMPLETED, K_FAILED, K_ABORTED, K_MALFORMED, K_PACKETS, K_BYTES,
  K_RETRANS, K_DUP_ACKS, K_TIMEOUTS, K_UNANSWERED, K_BUSY_TURNS, K_COUNT
};

// How a transfer ended (the order of TransferOutcome names in native-engine.ts).
enum { OUT_COMPLETED, OUT_ABORTED, OUT_UNANSWERED, OUT_FAILED };

// Events to JS; the order matches EVENT in native-engine.ts.
enum { EV_NEED, EV_ANSWERED, EV_END, EV_LOG, EV_RELEASE };
enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

// Messages to a thread.
enum { MSG_START, MSG_CHUNK, MSG_CHUNK_ERROR, MSG_AGAIN, MSG_ABORT };

#define TEXT_MAX 240

// A chunk of ready DATA packets in memory JS owns (a SharedArrayBuffer), kept alive by `ref`.
typedef struct {
  int64_t index;
  const uint8_t *data;
  size_t len;
  int64_t count;
  bool final;
  napi_ref ref;
} chunk_t;

typedef struct event {
  int type;
  int thread;
  uint32_t id;
  int64_t index;
  int outcome;
  int level;
  double packets, bytes, retrans, duration_ms;
  napi_ref ref;
  char text[TEXT_MAX];
  struct event *next;
} event_t;

struct transfer;

typedef struct msg {
  int type;
  uint32_t id;
  struct transfer *t;
  chunk_t chunk;
  bool quiet;
  char text[TEXT_MAX];
  struct msg *next;
} msg_t;

// Retransmission limits, the same as the JS engine's TransferTuning.
typedef struct {
  int retries;
  int64_t max_stall_ns;
  int64_t first_ack_ns;
  int first_resends;
  int64_t busy_poll_ns;
  int busy_poll_max;
} tuning_t;

struct engine;

#define BUCKETS 1024

typedef struct thread {
  struct engine *eng;
  int index;
  pthread_t tid;
  int ep;
  int wake;
  double *counters;
  pthread_mutex_t lock;
  msg_t *inbox, *inbox_tail;
  struct transfer *buckets[BUCKETS];
  struct transfer *all;
  struct transfer *graveyard;
  int live;
  /** The clock as of this loop turn (read once per turn: a clock read costs more than a packet's bookkeeping). */
  int64_t now;
  int64_t next_scan;
  int64_t poll_until;
  bool stop;
  bool started;
} thread_t;

typedef struct engine {
  napi_threadsafe_function tsfn;
  napi_ref on_event;
  pthread_mutex_t lock;
  event_t *events, *events_tail;
  bool scheduled;
  int nthreads;
  thread_t *threads;
  napi_ref counter_refs[64];
  const int32_t *running;
  napi_ref running_ref;
  int slots[K_COUNT];
  tuning_t tuning;
  bool closed;
} engine_t;

typedef struct transfer {
  uint32_t id;
  struct transfer *bucket_next;
  struct transfer *all_next, *all_prev;
  struct transfer *grave_next;
  thread_t *th;
  int fd;
  int blksize, windowsize;
  int64_t chunk_blocks;
  int64_t timeout_ns;
  uint8_t *oack;
  size_t oack_len;
  int64_t last_block;
  int64_t acked, sent, max_sent, rewind_guard;
  int retries_left, first_resends_left;
  bool answered, waiting_for_read, done, loading, failed_read, armed;
  char read_error[TEXT_MAX];
  int64_t next_index;
  chunk_t *held;
  int nheld, held_cap;
  int64_t started, first_sent_at, last_progress;
  int64_t deadline, timer_ns;
  int64_t sent_at;
  int fast_streak;
  double packets, bytes, retrans;
} transfer_t;

int64_t now_ns(void);
void engine_emit(engine_t *eng, event_t *ev);
void counter_add(thread_t *th, int k, double n);

// transfer.c
void transfer_start(transfer_t *t);
void transfer_on_packet(transfer_t *t, const uint8_t *buf, ssize_t len);
void transfer_on_socket_error(transfer_t *t, int err);
void transfer_on_chunk(transfer_t *t, chunk_t *c);
void transfer_on_chunk_error(transfer_t *t, const char *message);
void transfer_again(transfer_t *t);
void transfer_abort(transfer_t *t, const char *reason, bool quiet);
void transfer_on_timeout(transfer_t *t);
void transfer_release_chunk(thread_t *th, chunk_t *c);

// loop.c
void *thread_main(void *arg);
void thread_post(thread_t *th, msg_t *m);
void thread_set_deadline(transfer_t *t, int64_t at);
void thread_forget(transfer_t *t);

#endif
