import { performance } from 'node:perf_hooks';
import { bucketOf } from '../../src/core/assignment.js';
import type { KserveClient } from '../../src/demo/kserve-proto.js';
import { callError, infer, inferenceClient, userKey } from './grpc-client.js';
import type { GrpcLoadPlan, GrpcLoadResult } from './grpc-load.js';

/**
 * The gRPC load generator, in its own process so that its CPU is never counted with a
 * proxy's: `concurrency` unary ModelInfer calls in flight, each followed at once by the
 * next, spread round-robin over `channels` HTTP/2 connections per target. Call i is
 * made for user i mod `users`, so every user recurs and stickiness is exercised. Direct
 * to the backends it splits users itself, with Switchyard's bucket function.
 */
const plan = JSON.parse(process.argv[2] ?? '{}') as GrpcLoadPlan;

const open = (url: string): KserveClient[] => Array.from({ length: plan.channels }, () => inferenceClient(url));
const proxied = plan.route.kind === 'proxy' ? open(plan.route.url) : [];
const stable = plan.route.kind === 'direct' ? open(plan.route.stable) : [];
const candidate = plan.route.kind === 'direct' ? open(plan.route.candidate) : [];
/** Per user, the connections that serve it. */
const routes: KserveClient[][] = Array.from({ length: plan.users }, (_, i) => {
  if (plan.route.kind === 'proxy') return proxied;
  return bucketOf(plan.route.salt, userKey(i)) < plan.route.weightBp ? candidate : stable;
});

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function run(seconds: number): Promise<GrpcLoadResult> {
  const cpuFrom = process.cpuUsage();
  const startedAt = performance.now();
  const until = startedAt + seconds * 1000;
  const latenciesUs: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const caller = async () => {
    while (performance.now() < until) {
      const i = next++;
      const conns = routes[i % plan.users] as KserveClient[];
      const from = performance.now();
      try {
        await infer(conns[i % conns.length] as KserveClient, plan.keyHeader, userKey(i % plan.users));
        latenciesUs.push((performance.now() - from) * 1000);
      } catch (err) {
        failed++;
        firstError ??= callError(err);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, caller));
  const durationMs = performance.now() - startedAt;
  const sorted = Float64Array.from(latenciesUs).sort();
  const cpu = process.cpuUsage(cpuFrom);
  return {
    calls: sorted.length,
    failed,
    firstError,
    durationMs,
    callsPerS: (sorted.length * 1000) / durationMs,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    maxUs: sorted.length === 0 ? NaN : (sorted[sorted.length - 1] as number),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

process.on('message', (msg: { type: string; id: number; seconds: number }) => {
  if (msg.type === 'run') void run(msg.seconds).then((result) => process.send?.({ type: 'result', id: msg.id, result }));
});
// Orphaned (the bench died without stopping it): nothing is left to measure for.
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
