import { describe, expect, it } from 'vitest';
import { startBackend } from '../helpers/backends.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

describe('console series', () => {
  it('turns the analysis windows into request rate, error ratio and p99 per version', async () => {
    const v1 = await startBackend('v1');
    const gateway = await startTestGateway(configYaml({ v1: [v1.url], v2: ['http://127.0.0.1:1'] }));
    try {
      for (let i = 0; i < 40; i++) await (await fetch(`${gateway.proxyUrl}/fraud/x`, { headers: { 'x-user-id': `u${i}` } })).arrayBuffer();
      await (await fetch(`${gateway.proxyUrl}/fraud/x`, { headers: { 'x-model-version': 'v2' } })).arrayBuffer();
      await gateway.flusher.flush();
      // Points end at the start of the current step, so wait for the step with the traffic to close.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const res = await admin(gateway, 'GET', '/api/v1/services/fraud-scorer/series?minutes=1&step=1');
      expect(res.status).toBe(200);
      const series = (await res.json()) as { versions: Record<string, { requests: number[]; errors: number[]; p99Ms: Array<number | null> }> };
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      expect(sum(series.versions.v1?.requests ?? [])).toBe(40);
      expect(sum(series.versions.v1?.errors ?? [])).toBe(0);
      expect((series.versions.v1?.p99Ms ?? []).some((p) => p !== null && p > 0)).toBe(true);
      expect(sum(series.versions.v2?.errors ?? [])).toBe(1);
    } finally {
      await gateway.close();
      await v1.close();
    }
  });
});
