import { silentLogger } from '../app/logger.js';
import { parseConfig } from '../config/load.js';
import { startGateway, type Gateway } from '../main.js';
import { startSampleBackend } from './sample-backend.js';
import { generateTraffic, newTally, type TrafficTally } from './traffic.js';

export interface DemoOptions {
  readonly proxyPort: number;
  readonly adminPort: number;
  /** Keep running this long after the story; 0 runs until Ctrl-C. */
  readonly durationMs: number;
  readonly print: (line: string) => void;
  /** Bake time of each canary step. */
  readonly bakeMs?: number;
}

const TOKEN = 'demo-operator-token-0123456789';
const SERVICE = 'fraud-scorer';

function demoConfig(urls: readonly string[], options: DemoOptions): string {
  const bake = `${options.bakeMs ?? 4000}ms`;
  return `
proxy: { listen: "127.0.0.1:${options.proxyPort}", drainDelay: 0s, drainTimeout: 2s }
admin: { listen: "127.0.0.1:${options.adminPort}", tokens: [ { name: demo, token: "${TOKEN}", role: operator } ] }
analysis: { interval: 500ms, bucket: 500ms, flush: 250ms, settle: 500ms, baseline: 5s }
log: { level: silent }
services:
  ${SERVICE}:
    match: { pathPrefix: /fraud }
    stickiness: { header: x-user-id }
    versions: { v1: { targets: ["${urls[0]}"] }, v2: { targets: ["${urls[1]}"] }, v3: { targets: ["${urls[2]}"] } }
    analysis: { minCandidateRequests: 40, latencyEnabled: false }
    shadow: { timeout: 1s, prediction: { field: score, kind: score } }
    rollout: { stable: v1, strategy: canary, steps: [ { shadow: 100, bake: ${bake} }, { weight: 10, bake: ${bake} }, { weight: 50, bake: ${bake} } ] }
`;
}

function describeTally(tally: TrafficTally): string {
  const parts = [...tally.byVersion.entries()].sort().map(([v, n]) => `${v} ${((100 * n) / Math.max(1, tally.total)).toFixed(0)}%`);
  return `${parts.join(' ') || 'no traffic'} (5xx ${tally.errors})`;
}

/** Prints a line whenever the rollout state changes, until `done` says stop. */
async function follow(gateway: Gateway, print: (line: string) => void, tally: () => TrafficTally, done: (phase: string) => boolean): Promise<void> {
  let last = '';
  for (;;) {
    const state = gateway.routing.view(SERVICE)?.state;
    if (state !== undefined) {
      const shadow = state.shadow === null ? '' : `  shadow ${state.shadow.version} ${state.shadow.sampleBp / 100}%`;
      const line = `${state.phase.padEnd(11)} stable ${state.stable}  candidate ${state.candidate ?? '-'}  weight ${state.weightBp / 100}%${shadow}  step ${state.stepIndex + 1}/${state.steps.length}`;
      if (line !== last) {
        print(`  ${line}  | traffic ${describeTally(tally())}${state.reason === null ? '' : `\n    why: ${state.reason}`}`);
        last = line;
      }
      if (done(state.phase)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The whole story with nothing installed: three sample models behind the
 * gateway on the in-memory store, steady traffic, a healthy candidate that the
 * analysis advances step by step and promotes, then a regressing one that it
 * rolls back by itself.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const models = await Promise.all([
    startSampleBackend({ version: 'v1' }),
    startSampleBackend({ version: 'v2', scoreShift: 0.01 }),
    startSampleBackend({ version: 'v3', errorRate: 0.3 }),
  ]);
  const gateway = await startGateway(parseConfig(demoConfig(models.map((m) => m.url), options), {}), { log: silentLogger });
  const api = (path: string, body: unknown) =>
    fetch(`${gateway.adminUrl}/api/v1/services/${SERVICE}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const stop = new AbortController();
  let tally = newTally();
  const tallyNow = () => {
    const seen = tally;
    tally = newTally();
    return seen;
  };
  const traffic = generateTraffic(`${gateway.proxyUrl}/fraud/score`, { rps: 60, users: 500, header: 'x-user-id', signal: stop.signal, tally: () => tally });
  const { print } = options;
  print(`gateway: proxy ${gateway.proxyUrl}  admin ${gateway.adminUrl}  (token ${TOKEN})`);
  print(`models:  v1 ${models[0]?.url} (stable)  v2 ${models[1]?.url} (healthy, scores +0.01)  v3 ${models[2]?.url} (fails 30%)`);
  await new Promise((resolve) => setTimeout(resolve, 1500));

  print('');
  print('> start v2: first a shadow step (copies of live requests, answers compared with v1\'s, never shown to clients),');
  print('  then canary steps; the analysis judges each against v1 and moves it on by itself');
  await api('/rollout', { candidate: 'v2' });
  await follow(gateway, print, tallyNow, (phase) => phase === 'promoted');

  print('');
  print('> start v3, which fails 30% of its requests: its shadow step catches it before any client sees it');
  await api('/rollout', { candidate: 'v3' });
  await follow(gateway, print, tallyNow, (phase) => phase === 'rolled_back');

  print('');
  print('Try it yourself, in another terminal:');
  print(`  curl -s -X POST ${gateway.adminUrl}/api/v1/services/${SERVICE}/rollout -H 'authorization: Bearer ${TOKEN}' -H 'content-type: application/json' -d '{"candidate":"v3"}'`);
  print(`  curl -s -X POST ${models[2]?.url}/_control -d '{"errorRate":0}'    # heal v3 first, and it gets promoted`);
  print(`  curl -s ${gateway.adminUrl}/metrics | grep switchyard_rollbacks_total`);

  const ended = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const finish = options.durationMs > 0 ? new Promise((resolve) => setTimeout(resolve, options.durationMs)) : new Promise(() => undefined);
  await Promise.race([ended, finish]);
  stop.abort();
  await traffic;
  await gateway.close();
  await Promise.all(models.map((m) => m.close()));
}
