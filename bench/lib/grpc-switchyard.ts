import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KSERVE_PATH_PREFIX } from '../../src/demo/kserve-proto.js';
import { canaryAdmin } from './canary-admin.js';
import { pollUntilAnswers, versionShare } from './grpc-client.js';
import { freePort, pollUntil } from './http-probe.js';
import { own, stopTree, treeCpuMs, unlessExited } from './proc-tree.js';
import { CLI, TOKEN } from './switchyard.js';

/**
 * Switchyard relaying gRPC as an operator runs it: `switchyard serve --config FILE
 * --workers 1` with one `protocol: grpc` service on the KServe path prefix, sticky on a
 * metadata header, and a 10 % canary put in place through the admin API after start (as
 * bench/lib/switchyard.ts does for HTTP). The proxy port speaks h2c beside HTTP/1.1.
 */

const SERVICE = 'bench-grpc';

export interface GrpcSwitchyardOptions {
  readonly stable: string;
  readonly candidate: string;
  readonly keyHeader: string;
  /** Pass `--workers 1`; false when this build's serve has no such flag (one process either way). */
  readonly workersFlag: boolean;
  readonly canaryPercent: number;
  /** Users the split is checked on before the run. */
  readonly users: number;
}

export interface GrpcSwitchyard {
  readonly url: string;
  /** CPU of the gateway's process tree, ms. */
  cpuMs(): number;
  /** Puts the canary back if the analysis moved it; says what it found, or null when it was in place. */
  ensureCanary(): Promise<string | null>;
  stop(): Promise<void>;
}

function configYaml(proxyPort: number, adminPort: number, opts: GrpcSwitchyardOptions): string {
  return `# written by bench/grpc
proxy: { listen: "127.0.0.1:${proxyPort}", drainDelay: 0s, drainTimeout: 2s }
admin:
  listen: "127.0.0.1:${adminPort}"
  tokens:
    - { name: bench, token: "${TOKEN}", role: operator }
log: { level: warn }
services:
  ${SERVICE}:
    protocol: grpc
    match: { pathPrefix: ${KSERVE_PATH_PREFIX} }
    stickiness: { header: ${opts.keyHeader} }
    versions:
      v1: { targets: ["${opts.stable}"] }
      v2: { targets: ["${opts.candidate}"] }
    rollout:
      stable: v1
      strategy: canary
      # one step that bakes longer than the bench runs: the canary stays at ${opts.canaryPercent} %
      steps: [ { weight: ${opts.canaryPercent}, bake: 24h } ]
`;
}

export async function startGrpcSwitchyard(opts: GrpcSwitchyardOptions): Promise<GrpcSwitchyard> {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-grpc-serve-'));
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(configPath, configYaml(proxyPort, adminPort, opts));
  const args = [CLI, 'serve', '--config', configPath, ...(opts.workersFlag ? ['--workers', '1'] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  own(proc);
  const pid = proc.pid as number;
  const url = `http://127.0.0.1:${proxyPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const stop = async () => {
    await stopTree(proc, 'SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const admin = canaryAdmin(adminUrl, SERVICE, TOKEN, opts.canaryPercent, 'bench/grpc');
  try {
    const ready = (async () => {
      await pollUntil(`${adminUrl}/readyz`, (r) => r.ok, 20_000);
      await pollUntilAnswers(url, opts.keyHeader, 10_000);
      await admin.start();
      const share = await versionShare(url, opts.users, opts.keyHeader, 'v2');
      if (Math.abs(share - opts.canaryPercent / 100) > 0.03) throw new Error(`the ${opts.canaryPercent} % canary is not in place: v2 answered ${(share * 100).toFixed(1)} % of ${opts.users} users`);
    })();
    await unlessExited(proc, 'switchyard serve', ready);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    cpuMs: () => treeCpuMs(pid),
    ensureCanary: admin.ensure,
    stop,
  };
}
