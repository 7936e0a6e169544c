import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/app/logger.js';
import { startSampleBackend } from '../../src/demo/sample-backend.js';
import { startBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

describe('graceful drain', () => {
  it('fails readiness at once, finishes requests in flight, then refuses new connections', async () => {
    const [v1, v2] = await Promise.all([startSampleBackend({ version: 'v1', latencyMs: 600 }), startSampleBackend({ version: 'v2' })]);
    const yaml = configYaml({ v1: [v1.url], v2: [v2.url] }).replace(
      'proxy: { listen: "127.0.0.1:0" }',
      'proxy: { listen: "127.0.0.1:0", drainDelay: 200ms, drainTimeout: 5s }',
    );
    const gateway = await startTestGateway(yaml);
    try {
      const slow = fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: '{}' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const drained = gateway.drain();
      const ready = await fetch(`${gateway.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain('draining');
      // Still taking connections during the drain delay, each answer closing its connection.
      const during = await fetch(`${gateway.proxyUrl}/fraud/x`, { headers: { 'x-model-version': 'v2' } });
      expect(during.status).toBe(200);
      expect(during.headers.get('connection')).toBe('close');
      const answer = await slow;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { model: string }).model).toBe('v1');
      await drained;
      await expect(fetch(`${gateway.proxyUrl}/fraud/x`)).rejects.toThrow();
    } finally {
      await Promise.all([v1.close(), v2.close()]);
    }
  });

  it('counts what a drain cut at its timeout in switchyard_drain_cut_total, and logs how many', async () => {
    const backend = await startBackend('v1');
    const yaml = configYaml({ v1: [backend.url] })
      .replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", drainDelay: 0s, drainTimeout: 200ms }')
      .replace('request: 1s', 'request: 30s');
    const warnings: Array<Record<string, unknown>> = [];
    const log: Logger = { info: () => undefined, warn: (obj, msg) => warnings.push({ ...obj, msg }), error: () => undefined };
    const gateway = await startTestGateway(yaml, { log });
    try {
      // /fraud/hang never answers: these three are still in flight when the drain timeout ends.
      const hanging = Array.from({ length: 3 }, () => fetch(`${gateway.proxyUrl}/fraud/hang`).then(() => 'answered', () => 'cut'));
      await expect.poll(() => backend.seen.filter((s) => s.url === '/fraud/hang').length, { timeout: 5_000 }).toBe(3);
      await gateway.drain();
      expect(await Promise.all(hanging)).toEqual(['cut', 'cut', 'cut']);
      expect(await gateway.metrics.exposition()).toMatch(/^switchyard_drain_cut_total 3$/m);
      expect(warnings).toEqual([{ cut: 3, msg: 'drain timeout: requests or streams still open were cut' }]);
    } finally {
      await backend.close();
    }
  });
});
