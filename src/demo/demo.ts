import { silentLogger } from '../app/logger.js';
import { parseConfig } from '../config/load.js';
import { generateGrpcTraffic } from './grpc-traffic.js';
import { KSERVE_PATH_PREFIX } from './kserve-proto.js';
import { startSampleGrpcModel } from './sample-grpc-model.js';
import { startGateway, type Gateway } from '../gateway/gateway.js';
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

/** The example config's operator token, so the README's CLI examples work against the demo as written. */
const TOKEN = 'dev-operator-token-change-me';
const SERVICE = 'fraud-scorer';
const GRPC_SERVICE = 'kserve-infer';

/** One service's release story: whose state to follow, and the traffic it gets since the last line printed. */
interface Story {
  readonly service: string;
  /** What its tally's errors are: 5xx answers for HTTP, non-OK statuses for gRPC. */
  readonly errors: string;
  readonly live: () => TrafficTally;
  /** The tally since the last call, a fresh one counting from now on. */
  readonly take: () => TrafficTally;
}

function story(service: string, errors: string): Story {
  let tally = newTally();
  return {
    service,
    errors,
    live: () => tally,
    take: () => {
      const seen = tally;
      tally = newTally();
      return seen;
    },
  };
}

function demoConfig(urls: readonly string[], grpcUrls: readonly string[], options: DemoOptions): string {
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
  ${GRPC_SERVICE}:
    protocol: grpc
    match: { pathPrefix: ${KSERVE_PATH_PREFIX} }
    stickiness: { header: x-user-id }
    versions: { v1: { targets: ["${grpcUrls[0]}"] }, v2: { targets: ["${grpcUrls[1]}"] }, v3: { targets: ["${grpcUrls[2]}"] } }
    analysis: { minCandidateRequests: 40, latencyEnabled: false }
    rollout: { stable: v1, strategy: canary, steps: [ { weight: 10, bake: ${bake} }, { weight: 50, bake: ${bake} } ] }
`;
}

function describeTally(tally: TrafficTally, errors: string): string {
  const parts = [...tally.byVersion.entries()].sort().map(([v, n]) => `${v} ${((100 * n) / Math.max(1, tally.total)).toFixed(0)}%`);
  return `${parts.join(' ') || 'no traffic'} (${errors} ${tally.errors})`;
}

/** Prints a line whenever the story's rollout state changes, until `done` says stop. */
async function follow(gateway: Gateway, print: (line: string) => void, story: Story, done: (phase: string) => boolean): Promise<void> {
  let last = '';
  for (;;) {
    const state = gateway.routing.view(story.service)?.state;
    if (state !== undefined) {
      const shadow = state.shadow === null ? '' : `  shadow ${state.shadow.version} ${state.shadow.sampleBp / 100}%`;
      const line = `${state.phase.padEnd(11)} stable ${state.stable}  candidate ${state.candidate ?? '-'}  weight ${state.weightBp / 100}%${shadow}  step ${state.stepIndex + 1}/${state.steps.length}`;
      if (line !== last) {
        print(`  ${story.service.padEnd(12)} ${line}  | traffic ${describeTally(story.take(), story.errors)}${state.reason === null ? '' : `\n    why: ${state.reason}`}`);
        last = line;
      }
      if (done(state.phase)) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The whole story with nothing installed: three HTTP and three gRPC sample
 * models behind the gateway on the in-memory store, steady traffic to both
 * services, a healthy candidate that the analysis advances step by step and
 * promotes, then a regressing one that it rolls back by itself. The two
 * services' releases run side by side, so the gRPC story costs the demo
 * little time.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const [models, grpcModels] = await Promise.all([
    Promise.all([startSampleBackend({ version: 'v1' }), startSampleBackend({ version: 'v2', scoreShift: 0.01 }), startSampleBackend({ version: 'v3', errorRate: 0.3 })]),
    Promise.all([startSampleGrpcModel({ version: 'v1' }), startSampleGrpcModel({ version: 'v2', scoreShift: 0.01 }), startSampleGrpcModel({ version: 'v3', errorRate: 0.3 })]),
  ]);
  const gateway = await startGateway(parseConfig(demoConfig(models.map((m) => m.url), grpcModels.map((m) => m.url), options), {}), { log: silentLogger });
  const start = (service: string, candidate: string) =>
    fetch(`${gateway.adminUrl}/api/v1/services/${service}/rollout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ candidate }),
    });

  const stop = new AbortController();
  const http = story(SERVICE, '5xx');
  const grpc = story(GRPC_SERVICE, 'non-OK');
  const traffic = Promise.all([
    generateTraffic(`${gateway.proxyUrl}/fraud/score`, { rps: 60, users: 500, header: 'x-user-id', signal: stop.signal, tally: http.live }),
    generateGrpcTraffic(new URL(gateway.proxyUrl).host, { rps: 100, users: 500, header: 'x-user-id', signal: stop.signal, tally: grpc.live }),
  ]);
  const { print } = options;
  print(`gateway: proxy ${gateway.proxyUrl} (HTTP/1.1, and gRPC over h2c)  admin ${gateway.adminUrl}  (token ${TOKEN})`);
  print(`models:  v1 ${models[0]?.url} (stable)  v2 ${models[1]?.url} (healthy, scores +0.01)  v3 ${models[2]?.url} (fails 30%)`);
  print(`gRPC:    v1 ${grpcModels[0]?.url} (stable)  v2 ${grpcModels[1]?.url} (healthy, scores +0.01)  v3 ${grpcModels[2]?.url} (fails 30% with UNAVAILABLE)`);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const both = async (candidate: string, phase: string) => {
    await Promise.all([start(SERVICE, candidate), start(GRPC_SERVICE, candidate)]);
    await Promise.all([follow(gateway, print, http, (p) => p === phase), follow(gateway, print, grpc, (p) => p === phase)]);
  };

  print('');
  print(`> start v2 on ${SERVICE}: first a shadow step (copies of live requests, answers compared with v1's, never shown to clients),`);
  print(`  then canary steps; on ${GRPC_SERVICE}, canary steps of gRPC calls. The analysis judges each against v1 and moves it on by itself`);
  await both('v2', 'promoted');

  print('');
  print(`> start v3, which fails 30% of its requests: on ${SERVICE} its shadow step catches it before any client sees it;`);
  print(`  on ${GRPC_SERVICE} its UNAVAILABLE statuses count against it on its first canary step (clients see none: the gateway retries them on v2)`);
  await both('v3', 'rolled_back');

  printTryIt(print, gateway, models);
  const ended = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const finish = options.durationMs > 0 ? new Promise((resolve) => setTimeout(resolve, options.durationMs)) : new Promise(() => undefined);
  await Promise.race([ended, finish]);
  stop.abort();
  await traffic;
  await gateway.close();
  await Promise.all([...models.map((m) => m.close()), ...grpcModels.map((m) => m.close())]);
}

function printTryIt(print: (line: string) => void, gateway: Gateway, models: readonly { url: string }[]): void {
  print('');
  print('Try it yourself, in another terminal:');
  print(`  export SWITCHYARD_ADMIN_TOKEN=${TOKEN}${gateway.adminUrl === 'http://127.0.0.1:8081' ? '' : ` SWITCHYARD_ADMIN_URL=${gateway.adminUrl}`}`);
  print(`  npx switchyard status ${SERVICE}`);
  print(`  curl -s -X POST ${gateway.adminUrl}/api/v1/services/${SERVICE}/rollout -H 'authorization: Bearer ${TOKEN}' -H 'content-type: application/json' -d '{"candidate":"v3"}'`);
  print(`  curl -s -X POST ${models[2]?.url}/_control -d '{"errorRate":0}'    # heal v3 first, and it gets promoted`);
  print(`  curl -s ${gateway.adminUrl}/metrics | grep switchyard_rollbacks_total`);
  print(`  grpcurl -plaintext -import-path proto -proto grpc_predict_v2.proto -H 'x-user-id: u1' -d '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"contents":{"fp32_contents":[0.5]}}]}' ${new URL(gateway.proxyUrl).host} inference.GRPCInferenceService/ModelInfer    # -v shows x-model-version`);
}
