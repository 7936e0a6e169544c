import { parseConfig } from '../config/load.js';
import { startGateway } from '../main.js';
import { silentLogger } from '../app/logger.js';
import { startSampleBackend } from './sample-backend.js';
import { generateTraffic, newTally, type TrafficTally } from './traffic.js';

export interface DemoOptions {
  readonly proxyPort: number;
  readonly adminPort: number;
  /** Stop after this long; 0 runs until Ctrl-C. */
  readonly durationMs: number;
  readonly print: (line: string) => void;
  /** How long each step of the tour lasts before its split is printed. */
  readonly phaseMs?: number;
}

const TOKEN = 'demo-operator-token-0123456789';
const SERVICE = 'fraud-scorer';

function demoConfig(v1: string, v2: string, options: DemoOptions): string {
  return `
proxy: { listen: "127.0.0.1:${options.proxyPort}" }
admin: { listen: "127.0.0.1:${options.adminPort}", tokens: [ { name: demo, token: "${TOKEN}", role: operator } ] }
log: { level: silent }
services:
  ${SERVICE}:
    match: { pathPrefix: /fraud }
    stickiness: { header: x-user-id }
    versions: { v1: { targets: ["${v1}"] }, v2: { targets: ["${v2}"] } }
    rollout: { stable: v1, strategy: canary, steps: [ { weight: 10, bake: 10s }, { weight: 50, bake: 10s } ] }
`;
}

function describeTally(tally: TrafficTally): string {
  const parts = [...tally.byVersion.entries()].sort().map(([v, n]) => `${v} ${((100 * n) / Math.max(1, tally.total)).toFixed(1)}%`);
  return `${String(tally.total).padStart(4)} requests: ${parts.join('  ') || 'none yet'}  (5xx: ${tally.errors})`;
}

/**
 * The whole story on one machine with nothing installed: two sample models,
 * the gateway on the in-memory store, steady traffic, and a rollout driven
 * through the admin API while the split is printed.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const [v1, v2] = await Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2', latencyMs: 5 })]);
  const gateway = await startGateway(parseConfig(demoConfig(v1.url, v2.url, options), {}), { log: silentLogger });
  const api = (path: string, body: unknown) =>
    fetch(`${gateway.adminUrl}/api/v1/services/${SERVICE}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

  const stop = new AbortController();
  let tally = newTally();
  const traffic = generateTraffic(`${gateway.proxyUrl}/fraud/score`, { rps: 40, users: 500, header: 'x-user-id', signal: stop.signal, tally: () => tally });
  const { print } = options;
  print(`gateway: proxy ${gateway.proxyUrl}  admin ${gateway.adminUrl}  (token ${TOKEN})`);
  print(`models:  v1 ${v1.url}  v2 ${v2.url}`);

  const tour: Array<[string, string, unknown]> = [
    ['start a canary of v2', '/rollout', { candidate: 'v2' }],
    ['raise the weight to 25%', '/weight', { weight: 25 }],
    ['raise the weight to 50%', '/weight', { weight: 50 }],
    ['roll back', '/rollback', { reason: 'demo: operator rolls back' }],
  ];
  const phaseMs = options.phaseMs ?? 3000;
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await wait(phaseMs);
  print(`before any rollout  ${describeTally(tally)}`);
  for (const [label, path, body] of tour) {
    const res = await api(path, body);
    print(`> ${label}: ${res.status === 200 ? `weight now ${String(res.body.weight)}%` : String(res.body.detail)}`);
    tally = newTally();
    await wait(phaseMs);
    print(`  traffic split     ${describeTally(tally)}`);
  }
  print('');
  print('Try it yourself, in another terminal:');
  print(`  curl -s -X POST ${gateway.adminUrl}/api/v1/services/${SERVICE}/rollout -H 'authorization: Bearer ${TOKEN}' -H 'content-type: application/json' -d '{"candidate":"v2"}'`);
  print(`  curl -s -X POST ${gateway.adminUrl}/api/v1/services/${SERVICE}/weight -H 'authorization: Bearer ${TOKEN}' -H 'content-type: application/json' -d '{"weight":30}'`);
  print(`  curl -s -X POST ${v2.url}/_control -d '{"errorRate":0.5}'    # make v2 fail half its requests`);

  const deadline = options.durationMs > 0 ? Date.now() + options.durationMs : Number.POSITIVE_INFINITY;
  const ended = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  while (Date.now() < deadline) {
    tally = newTally();
    const tick = await Promise.race([wait(Math.min(phaseMs, Math.max(0, deadline - Date.now()))).then(() => 'tick'), ended.then(() => 'end')]);
    if (tick === 'end') break;
    print(`  traffic split     ${describeTally(tally)}`);
  }
  stop.abort();
  await traffic;
  await gateway.close();
  await Promise.all([v1.close(), v2.close()]);
}
