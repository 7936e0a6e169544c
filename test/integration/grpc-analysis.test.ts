import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, startTestGateway } from '../helpers/gateway.js';
import { Cleanup, deadlineIn, gatewayYaml, KSERVE_PATH_PREFIX, kserveClient, metadataOf, startGrpcModel, targetOf, unaryCall, until, type Failure, type KserveClient, type ModelInferResponse } from '../helpers/grpc.js';

/**
 * The analysis judging a gRPC candidate by the statuses its calls end with,
 * on a fast loop (as the demo runs it), with real traffic through the
 * gateway: a failing code rolls it back, a code that is an answer does not.
 */

const SERVICE = 'kserve';
const MIN_CANDIDATE_CALLS = 20;
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function canary(candidateFails: (n: number) => Failure | null): Promise<{ g: Gateway; client: KserveClient }> {
  const [v1, v2] = await Promise.all([startGrpcModel({ version: 'v1' }), startGrpcModel({ version: 'v2', fail: candidateFails })]);
  cleanup.add(v1);
  cleanup.add(v2);
  const yaml = gatewayYaml(
    [
      {
        name: SERVICE,
        pathPrefix: KSERVE_PATH_PREFIX,
        versions: { v1: [v1.url], v2: [v2.url] },
        extra: [`analysis: { minCandidateRequests: ${MIN_CANDIDATE_CALLS}, latencyEnabled: false }`],
      },
    ],
    { analysis: '{ interval: 500ms, bucket: 500ms, flush: 250ms, settle: 500ms, baseline: 5s }' },
  );
  const g = cleanup.add(await startTestGateway(yaml));
  const started = await admin(g, 'POST', `/api/v1/services/${SERVICE}/rollout`, { candidate: 'v2' });
  expect(started.status).toBe(200);
  await until(() => g.routing.view(SERVICE)?.state.weightBp === 5000, 'the gateway routing on the 50 % step');
  return { g, client: cleanup.add(kserveClient(targetOf(g.proxyUrl))) };
}

/** Calls from ever new users, a few at a time, until `done`; the statuses seen by version. */
async function trafficUntil(client: KserveClient, done: () => Promise<boolean>, what: string): Promise<Map<string, number[]>> {
  const seen = new Map<string, number[]>();
  let user = 0;
  await until(
    async () => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => unaryCall<ModelInferResponse>((cb) => client.ModelInfer({ id: 'x' }, metadataOf({ 'x-user-id': `user-${user++}` }), { deadline: deadlineIn(10_000) }, cb))),
      );
      for (const a of answers) {
        const version = a.headers?.get('x-model-version')[0] ?? a.trailers.get('x-model-version')[0];
        seen.set(String(version), [...(seen.get(String(version)) ?? []), a.code]);
      }
      return done();
    },
    what,
    45_000,
  );
  return seen;
}

/** `switchyard_grpc_calls_total` for one version and code, 0 when absent. */
function grpcCalls(metrics: string, version: string, code: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`switchyard_grpc_calls_total{service="${SERVICE}",version="${version}",code="${code}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** /metrics once it counts `total` gRPC calls of the service: a call is counted when its stream closes, just after its client got the status. */
async function metricsCounting(g: Gateway, total: number): Promise<string> {
  let metrics = '';
  await until(async () => {
    metrics = await (await fetch(`${g.adminUrl}/metrics`)).text();
    const counted = metrics
      .split('\n')
      .filter((l) => l.startsWith(`switchyard_grpc_calls_total{service="${SERVICE}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    return counted === total;
  }, `/metrics counting ${total} calls`);
  return metrics;
}

const callsSeen = (seen: Map<string, number[]>) => [...seen.values()].reduce((sum, codes) => sum + codes.length, 0);

async function state(g: Gateway): Promise<{ phase: string; reason: string | null; lastVerdict: { result: string; figures: Record<string, number> } | null }> {
  return (await admin(g, 'GET', `/api/v1/services/${SERVICE}`)).json() as Promise<{ phase: string; reason: string | null; lastVerdict: { result: string; figures: Record<string, number> } | null }>;
}

describe('judging a gRPC candidate', () => {
  it('rolls back a candidate that ends most calls with INTERNAL, and /metrics counts the codes per version', async () => {
    const { g, client } = await canary((n) => (n % 5 === 4 ? null : { code: grpc.status.INTERNAL, details: 'tensor shape mismatch' }));
    const seen = await trafficUntil(client, async () => (await state(g)).phase === 'rolled_back', 'the analysis rolling the candidate back');
    const after = await state(g);
    expect(after.reason).toMatch(/^analysis: candidate error/);
    expect(new Set(seen.get('v1'))).toEqual(new Set([grpc.status.OK]));
    expect(seen.get('v2')).toContain(grpc.status.INTERNAL);

    const metrics = await metricsCounting(g, callsSeen(seen));
    const v2Internal = grpcCalls(metrics, 'v2', 'INTERNAL');
    const v2Ok = grpcCalls(metrics, 'v2', 'OK');
    expect(v2Internal).toBe(seen.get('v2')?.filter((c) => c === grpc.status.INTERNAL).length);
    expect(v2Ok).toBe(seen.get('v2')?.filter((c) => c === grpc.status.OK).length);
    expect(grpcCalls(metrics, 'v1', 'OK')).toBe(seen.get('v1')?.length);
    expect(grpcCalls(metrics, 'v1', 'INTERNAL')).toBe(0);
    expect(metrics).toMatch(new RegExp(`switchyard_upstream_errors_total\\{service="${SERVICE}",version="v2",kind="status"\\} ${v2Internal}\\b`));

    // Rolled back: every user is on stable again.
    const later = await Promise.all(Array.from({ length: 10 }, (_, i) => unaryCall<ModelInferResponse>((cb) => client.ModelInfer({}, metadataOf({ 'x-user-id': `late-${i}` }), { deadline: deadlineIn(10_000) }, cb))));
    expect(later.map((a) => [a.code, a.response?.model_version])).toEqual(Array(10).fill([grpc.status.OK, 'v1']));
  }, 60_000);

  it('does not roll back a candidate whose calls end with NOT_FOUND, an answer and not a failing code', async () => {
    const { g, client } = await canary(() => ({ code: grpc.status.NOT_FOUND, details: 'no such model' }));
    // A verdict on at least the minimum of candidate calls, which all ended NOT_FOUND.
    const seen = await trafficUntil(
      client,
      async () => {
        const s = await state(g);
        return s.phase !== 'progressing' || (s.lastVerdict?.result === 'pass' && (s.lastVerdict.figures['candidateRequests'] ?? 0) >= MIN_CANDIDATE_CALLS);
      },
      'a passing verdict on the candidate',
    );
    const after = await state(g);
    expect({ phase: after.phase, verdict: after.lastVerdict?.result }).toEqual({ phase: 'progressing', verdict: 'pass' });
    expect(new Set(seen.get('v2'))).toEqual(new Set([grpc.status.NOT_FOUND]));
    const metrics = await metricsCounting(g, callsSeen(seen));
    expect(grpcCalls(metrics, 'v2', 'NOT_FOUND')).toBe(seen.get('v2')?.length);
    expect(metrics).toMatch(new RegExp(`switchyard_upstream_errors_total\\{service="${SERVICE}",version="v2",kind="status"\\} 0\\b`));
  }, 60_000);
});
