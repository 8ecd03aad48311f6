// Server-sent events for the dashboard: one stream per open page, fed by the event bus. Each
// install event becomes one `system` message (JSON on one data line); a comment line every
// heartbeatMs keeps proxies from closing the stream and notices a session that ended.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Lifecycle } from '../../boot/lifecycle.ts';
import type { EventBus } from './bus.ts';
import { livePayload } from './model.ts';
import type { SessionStore } from './session.ts';

/** How often an idle stream gets a comment line. */
export const DEFAULT_HEARTBEAT_MS = 25_000;
/** Streams open at once; more are refused with 503 (the browser retries). */
export const DEFAULT_MAX_STREAMS = 200;
/** What the browser waits before reconnecting, sent as the stream's `retry:`. */
export const RETRY_MS = 3000;

export interface LiveOptions {
  bus: EventBus;
  lifecycle: Lifecycle;
  sessions: SessionStore;
  heartbeatMs?: number;
  maxStreams?: number;
}

/** Returns the handler of the SSE endpoint; the caller has checked the session. */
export function liveStreams(o: LiveOptions): { handle(req: IncomingMessage, res: ServerResponse, sessionId: string): void; readonly open: number } {
  let open = 0;
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxStreams = o.maxStreams ?? DEFAULT_MAX_STREAMS;
  return {
    get open() {
      return open;
    },
    handle(req, res, sessionId) {
      if (open >= maxStreams) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
        res.end('too many live streams\n');
        return;
      }
      open++;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: ${RETRY_MS}\n: connected\n\n`);
      let closed = false;
      const alive = () => {
        if (!closed && o.sessions.get(sessionId)) return true;
        close();
        return false;
      };
      const unsubscribe = o.bus.subscribe((system, event) => {
        if (alive()) res.write(`event: system\nid: ${event.id}\ndata: ${JSON.stringify(livePayload(system, event, o.lifecycle))}\n\n`);
      });
      const timer = setInterval(() => {
        if (alive()) res.write(': ping\n\n');
      }, heartbeatMs);
      timer.unref();
      function close() {
        if (closed) return;
        closed = true;
        open--;
        unsubscribe();
        clearInterval(timer);
        res.end();
      }
      req.on('close', close);
      res.on('error', close);
    },
  };
}
