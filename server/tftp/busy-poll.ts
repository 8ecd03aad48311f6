// Busy polling at the event-loop level, the analogue of Linux's SO_BUSY_POLL: after a transfer
// sends a window to a client that answers fast, the loop keeps polling (setImmediate turns, so
// epoll is asked with a zero timeout) for a bounded time instead of sleeping. The ACK is then read
// without the wakeup a sleeping process pays — at windowsize 1 that wakeup is a large part of each
// block's round trip. A client slower than the budget is never spun for, so an idle or slow
// server sleeps as before; the cost is at most one core while fast transfers run. Transfers decide
// when to hold: only after a streak of fast answers, and only while few transfers run at all (a busy
// server has packets waiting anyway, and spinning would take the CPU its clients need).

/** Polls the event loop without sleeping until the latest hold() deadline has passed. */
export class BusyPoller {
  /** setImmediate turns taken while holding (stats and tests). */
  turns = 0;
  private deadline = 0;
  private running = false;
  private stopped = false;

  /**
   * @param budgetMs how long after a send to keep polling; 0 turns busy polling off
   * @param now the clock (performance.now by default)
   * @param counted told of every turn taken (the server's counters)
   */
  constructor(
    readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly counted: (turns: number) => void = () => {},
  ) {}

  /** Returns true when a client whose last answer took rttMs is worth polling for. */
  worthIt(rttMs: number): boolean {
    return this.budgetMs > 0 && rttMs <= this.budgetMs;
  }

  /** Keeps the loop polling until budgetMs from now. */
  hold(): void {
    if (this.budgetMs <= 0 || this.stopped) return;
    this.deadline = this.now() + this.budgetMs;
    if (this.running) return;
    this.running = true;
    setImmediate(this.turn);
  }

  /** Returns true while the loop is being kept awake. */
  get active(): boolean {
    return this.running;
  }

  /** Stops polling for good (server shutdown). */
  stop(): void {
    this.stopped = true;
    this.deadline = 0;
  }

  private readonly turn = (): void => {
    if (!this.stopped && this.now() < this.deadline) {
      this.turns++;
      this.counted(1);
      setImmediate(this.turn);
    } else {
      this.running = false;
    }
  };
}
