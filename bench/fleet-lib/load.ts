import { Agent, request } from 'node:http';
import { STICKY_HEADER } from './config.js';

/** One request of the load: where it goes and the sticky key it carries. */
export interface Shot {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly path: string;
  readonly key: string;
}

export interface LoadTally {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  /** Not sent because `maxInFlight` requests were already waiting: the machine could not keep the pace. */
  readonly skipped: number;
  /** Failures by cause: `HTTP 502`, `ECONNRESET`, … */
  readonly reasons: ReadonlyMap<string, number>;
}

const REQUEST_TIMEOUT_MS = 10_000;
const STOP_WAIT_MS = 15_000;

export interface Pace {
  readonly rps: number;
  /**
   * Requests leave in a batch every `tickMs`: 5 ms is a steady stream; a few
   * hundred ms sends bursts, which costs every process far less CPU per request
   * on a small machine (one wake-up serves many requests).
   */
  readonly tickMs: number;
  readonly maxInFlight: number;
}

/**
 * Open-loop load at a fixed rate, as independent clients send it: requests
 * leave on schedule whether or not earlier ones have answered (up to
 * `maxInFlight`), over keep-alive connections, each counted as answered 2xx or
 * failed with its cause. `next` says where each one goes; null skips a beat.
 */
export class PacedLoad {
  private readonly agents = new Map<string, Agent>();
  private readonly reasons = new Map<string, number>();
  private sent = 0;
  private ok = 0;
  private failed = 0;
  private skipped = 0;
  private inFlight = 0;
  private due = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pace: Pace,
    private readonly next: () => Shot | null,
  ) {}

  start(): void {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.due += ((now - last) * this.pace.rps) / 1000;
      last = now;
      for (; this.due >= 1; this.due--) this.fire();
    }, this.pace.tickMs);
  }

  tally(): LoadTally {
    return { sent: this.sent, ok: this.ok, failed: this.failed, skipped: this.skipped, reasons: new Map(this.reasons) };
  }

  /** Stops sending, waits for the requests in flight, closes the connections. */
  async stop(): Promise<LoadTally> {
    clearInterval(this.timer);
    const deadline = performance.now() + STOP_WAIT_MS;
    while (this.inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const agent of this.agents.values()) agent.destroy();
    return this.tally();
  }

  private fire(): void {
    if (this.inFlight >= this.pace.maxInFlight) {
      this.skipped++;
      return;
    }
    const shot = this.next();
    if (shot === null) return;
    const target = new URL(shot.origin);
    this.sent++;
    this.inFlight++;
    let settled = false;
    const settle = (reason: string | null) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      if (reason === null) this.ok++;
      else {
        this.failed++;
        this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
      }
    };
    const req = request(
      { host: target.hostname, port: target.port, path: shot.path, agent: this.agentFor(shot.origin), headers: { [STICKY_HEADER]: shot.key }, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => settle(status >= 200 && status < 300 ? null : `HTTP ${status}`));
        res.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    req.end();
  }

  private agentFor(origin: string): Agent {
    let agent = this.agents.get(origin);
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, maxSockets: 64 });
      this.agents.set(origin, agent);
    }
    return agent;
  }
}
