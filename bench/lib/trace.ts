/** Microseconds on CLOCK_MONOTONIC: one clock for every process of the machine, so times compare across processes. */
export function monoUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** Flat records `id, a, b` collected while a measurement runs; capped so a long run cannot grow without bound. */
export class TraceLog {
  private ids: string[] = [];
  private times: number[] = [];
  private recording = false;

  constructor(private readonly cap = 400_000) {}

  start(): void {
    this.ids = [];
    this.times = [];
    this.recording = true;
  }

  push(id: string, a: number, b: number): void {
    if (!this.recording || this.ids.length >= this.cap) return;
    this.ids.push(id);
    this.times.push(a, b);
  }

  take(): { ids: string[]; times: number[] } {
    this.recording = false;
    const out = { ids: this.ids, times: this.times };
    this.ids = [];
    this.times = [];
    return out;
  }
}

export interface InProxy {
  readonly samples: number;
  /** Proxy got the request → backend got it, ms. */
  readonly requestP50: number;
  readonly requestP99: number;
  /** Backend answered → proxy finished the response, ms. */
  readonly responseP50: number;
  readonly responseP99: number;
  /** Both paths of the same request, ms: the latency the proxy itself adds. */
  readonly totalP50: number;
  readonly totalP99: number;
}

/** Joins the proxy's (id, got request, finished response) with the backend's (id, got request, answered). */
export function inProxyTimes(proxy: { ids: string[]; times: number[] }, backend: { ids: string[]; times: number[] }): InProxy | null {
  const seen = new Map<string, number>();
  backend.ids.forEach((id, i) => seen.set(id, i));
  const req: number[] = [];
  const res: number[] = [];
  const tot: number[] = [];
  proxy.ids.forEach((id, i) => {
    const j = seen.get(id);
    if (j === undefined) return;
    const [t1 = 0, t4 = 0] = [proxy.times[2 * i], proxy.times[2 * i + 1]];
    const [t2 = 0, t3 = 0] = [backend.times[2 * j], backend.times[2 * j + 1]];
    req.push((t2 - t1) / 1000);
    res.push((t4 - t3) / 1000);
    tot.push((t4 - t1 - (t3 - t2)) / 1000);
  });
  if (tot.length === 0) return null;
  const q = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
  return {
    samples: tot.length,
    requestP50: q(req, 0.5),
    requestP99: q(req, 0.99),
    responseP50: q(res, 0.5),
    responseP99: q(res, 0.99),
    totalP50: q(tot, 0.5),
    totalP99: q(tot, 0.99),
  };
}
