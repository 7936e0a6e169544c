import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleBackend, type SampleBackend } from '../../src/demo/sample-backend.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const SERVICE = 'fraud-scorer';

interface LoadResult {
  readonly scenario: string;
  readonly requests: number;
  readonly failures: number;
  readonly p99Ms: number;
}

/**
 * Steady traffic from many users, spread over the replicas a load balancer
 * would use: those whose /readyz answered 200 at its last probe (every 100 ms).
 */
class Load {
  private stopped = false;
  private readonly latencies: number[] = [];
  private failures = 0;
  private failureSamples: string[] = [];
  private ready: Gateway[];
  private readonly workers: Array<Promise<void>>;
  private readonly prober: NodeJS.Timeout;

  constructor(private readonly replicas: readonly Gateway[]) {
    this.ready = [...replicas];
    this.prober = setInterval(() => void this.probe(), 100);
    this.workers = Array.from({ length: 8 }, (_, w) => this.work(w));
  }

  private async probe(): Promise<void> {
    const answers = await Promise.all(
      this.replicas.map((g) =>
        fetch(`${g.adminUrl}/readyz`, { signal: AbortSignal.timeout(500) })
          .then((r) => (r.status === 200 ? g : null))
          .catch(() => null),
      ),
    );
    this.ready = answers.filter((g): g is Gateway => g !== null);
  }

  private async work(w: number): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const pool = this.ready.length > 0 ? this.ready : this.replicas;
      const gateway = pool[(w + i) % pool.length] as Gateway;
      const started = performance.now();
      try {
        const res = await fetch(`${gateway.proxyUrl}/fraud/score?n=${i}`, { headers: { 'x-user-id': `user-${w}-${i % 97}` } });
        await res.arrayBuffer();
        if (res.status !== 200) this.fail(`HTTP ${res.status} from ${res.headers.get('x-model-version')}`);
      } catch (err) {
        this.fail((err as Error).message);
      }
      this.latencies.push(performance.now() - started);
    }
  }

  private fail(why: string): void {
    this.failures++;
    if (this.failureSamples.length < 5) this.failureSamples.push(why);
  }

  async stop(scenario: string): Promise<LoadResult> {
    this.stopped = true;
    clearInterval(this.prober);
    await Promise.all(this.workers);
    const sorted = [...this.latencies].sort((a, b) => a - b);
    if (this.failures > 0) console.log(`${scenario}: failures such as ${this.failureSamples.join('; ')}`);
    return { scenario, requests: sorted.length, failures: this.failures, p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0 };
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('chaos: no client request fails while the release machinery is under stress', () => {
  const results: LoadResult[] = [];
  let redis: RedisServer;
  let v1: SampleBackend;
  let v2: SampleBackend;
  let replicas: Gateway[];

  beforeAll(async () => {
    [redis, v1, v2] = await Promise.all([startRedis(), startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2' })]);
  });

  afterAll(async () => {
    console.log(['scenario                              requests  failed   p99 ms', ...results.map((r) => `${r.scenario.padEnd(38)}${String(r.requests).padStart(8)}${String(r.failures).padStart(8)}${r.p99Ms.toFixed(1).padStart(9)}`)].join('\n'));
    await Promise.all([redis.stop(), v1.close(), v2.close()]);
  });

  async function startReplicas(count: number, v2Url = v2.url): Promise<Gateway[]> {
    const yaml = configYaml(
      { v1: [v1.url], v2: [v2Url] },
      `store: { redis: { url: "${redis.url}", keyPrefix: "chaos${results.length}" } }\nanalysis: { interval: 1h }\n`,
    ).replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", drainDelay: 400ms, drainTimeout: 5s }');
    const started: Gateway[] = [];
    for (let i = 0; i < count; i++) started.push(await startTestGateway(yaml, { resyncMs: 500 }));
    await admin(started[0] as Gateway, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
    return started;
  }

  async function run(scenario: string, count: number, act: (gateways: Gateway[]) => Promise<void>, v2Url?: string): Promise<LoadResult> {
    replicas = await startReplicas(count, v2Url);
    const load = new Load(replicas);
    try {
      await pause(300);
      await act(replicas);
      await pause(300);
    } finally {
      results.push(await load.stop(scenario));
      await Promise.all(replicas.map((g) => g.close().catch(() => undefined)));
    }
    return results.at(-1) as LoadResult;
  }

  it('weight changes ten times a second', async () => {
    const result = await run('weight changes 10/s', 2, async ([a]) => {
      for (let i = 0; i < 20; i++) {
        await admin(a as Gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: (i * 37) % 100 });
        await pause(100);
      }
    });
    expect(result.requests).toBeGreaterThan(200);
    expect(result.failures).toBe(0);
  });

  it('a rollback in the middle of the load', async () => {
    const result = await run('rollback mid-load', 2, async ([a]) => {
      await admin(a as Gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 50 });
      await pause(800);
      await admin(a as Gateway, 'POST', `/api/v1/services/${SERVICE}/rollback`, { reason: 'chaos' });
      await pause(800);
    });
    expect(result.failures).toBe(0);
  });

  it('the candidate backend killed: requests fall back to stable', async () => {
    const doomed = await startSampleBackend({ version: 'v2' });
    const result = await run(
      'candidate backend killed',
      2,
      async ([a]) => {
        await admin(a as Gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 50 });
        await pause(800);
        await doomed.close();
        await pause(1200);
      },
      doomed.url,
    );
    expect(result.failures).toBe(0);
  });

  it('Redis killed and restarted', async () => {
    const result = await run('redis killed and restarted', 2, async ([a]) => {
      await admin(a as Gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 30 });
      await redis.kill();
      await pause(1000);
      await redis.restart();
      await expect.poll(async () => (await fetch(`${(a as Gateway).adminUrl}/readyz`)).status, { timeout: 10_000 }).toBe(200);
    });
    expect(result.failures).toBe(0);
  });

  it('one of two replicas drained while the client spreads over both', async () => {
    const result = await run('one replica drained (SIGTERM path)', 2, async ([, b]) => {
      await admin(b as Gateway, 'POST', `/api/v1/services/${SERVICE}/weight`, { weight: 20 });
      await pause(500);
      await (b as Gateway).drain();
      await pause(500);
    });
    expect(result.failures).toBe(0);
  });
});
