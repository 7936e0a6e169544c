import { describe, expect, it } from 'vitest';
import { startSampleBackend } from '../../src/demo/sample-backend.js';
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
});
