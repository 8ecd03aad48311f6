// A small in-process event bus: the lifecycle's onEvent publishes every recorded install event,
// the dashboard's server-sent-events streams subscribe. A failing listener never reaches the
// publisher (the lifecycle must not fail because a browser went away).
import type { InstallEvent, System } from '../../store/types.ts';

/** Called with the system as it is after the event, and the event. */
export type SystemEventListener = (system: System, event: InstallEvent) => void;

/** Fans install events out to subscribers. */
export class EventBus {
  private readonly listeners = new Set<SystemEventListener>();

  /** Delivers an event to every subscriber; a subscriber that throws is skipped. */
  readonly publish = (system: System, event: InstallEvent): void => {
    for (const fn of [...this.listeners]) {
      try {
        fn(system, event);
      } catch {
        // A broken stream is the stream's problem; the others still get the event.
      }
    }
  };

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(fn: SystemEventListener): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** Returns how many subscribers are attached. */
  get size(): number {
    return this.listeners.size;
  }
}
