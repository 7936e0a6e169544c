import { fork } from 'node:child_process';
import { own, stopTree } from './proc-tree.js';

/** The parent's handle on the gRPC load generator (bench/lib/grpc-load-child.ts), one per leg. */

export type GrpcRoute =
  | { readonly kind: 'proxy'; readonly url: string }
  /** Direct to the backends: users whose bucket under `salt` is below `weightBp` call the candidate. */
  | { readonly kind: 'direct'; readonly stable: string; readonly candidate: string; readonly weightBp: number; readonly salt: string };

export interface GrpcLoadPlan {
  readonly route: GrpcRoute;
  /** Calls in flight at all times. */
  readonly concurrency: number;
  /** HTTP/2 connections per target. */
  readonly channels: number;
  /** Sticky keys, user-1..user-N, cycled over. */
  readonly users: number;
  readonly keyHeader: string;
}

export interface GrpcLoadResult {
  /** Calls answered OK. */
  readonly calls: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly durationMs: number;
  readonly callsPerS: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** The load generator's own CPU during the run. */
  readonly cpuMs: number;
}

export interface GrpcLoad {
  run(seconds: number): Promise<GrpcLoadResult>;
  stop(): Promise<void>;
}

export function startGrpcLoad(plan: GrpcLoadPlan): Promise<GrpcLoad> {
  const proc = fork(new URL('./grpc-load-child.js', import.meta.url), [JSON.stringify(plan)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  own(proc);
  let nextId = 0;
  const waiting = new Map<number, (result: GrpcLoadResult) => void>();
  const load: GrpcLoad = {
    run(seconds) {
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        const exited = () => reject(new Error('the gRPC load generator exited during a run'));
        proc.once('exit', exited);
        waiting.set(id, (result) => {
          proc.off('exit', exited);
          resolve(result);
        });
        proc.send({ type: 'run', id, seconds });
      });
    },
    stop: () => stopTree(proc, 'SIGTERM', 3_000),
  };
  proc.on('message', (msg: { type: string; id?: number; result?: GrpcLoadResult }) => {
    if (msg.type !== 'result' || msg.id === undefined || msg.result === undefined) return;
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the gRPC load generator did not start')), 15_000);
    proc.once('exit', (code) => reject(new Error(`the gRPC load generator exited with ${String(code)}`)));
    proc.once('message', () => {
      clearTimeout(timer);
      resolve(load);
    });
  });
}
