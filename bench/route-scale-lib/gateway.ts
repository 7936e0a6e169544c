import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, pollUntil, versionShare } from '../lib/http-probe.js';
import { own, stopTree, treeRssBytes, unlessExited } from '../lib/proc-tree.js';
import { ADMIN_TOKEN, MEASURED_PATH, MEASURED_SERVICE, scaleConfigYaml, STICKY_HEADER } from './config.js';

/**
 * One gateway as an operator runs it, `switchyard serve --config FILE` (one
 * process, in-memory store), with a config of `services` services and a 10 %
 * sticky canary of the measured service put in place through the admin API.
 */

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface ScaleGateway {
  readonly services: number;
  readonly pid: number;
  /** The measured service's URL. */
  readonly url: string;
  /** From spawning the process to its first proxied answer. */
  readonly startupMs: number;
  /** RSS of the process once started and serving, before any load. */
  readonly startedRssBytes: number;
  stop(): Promise<void>;
}

export async function startScaleGateway(services: number, backend: string): Promise<ScaleGateway> {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-route-scale-'));
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(configPath, scaleConfigYaml({ services, proxyPort, adminPort, backend }));
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { stdio: ['ignore', 'inherit', 'inherit'] });
  own(proc);
  const stop = async () => {
    await stopTree(proc, 'SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${proxyPort}${MEASURED_PATH}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    const started = (async () => {
      await pollUntil(url, (r) => r.ok, START_TIMEOUT_MS, { [STICKY_HEADER]: 'ready-probe' });
      const startupMs = performance.now() - spawnedAt;
      await canary(adminUrl);
      return startupMs;
    })();
    const startupMs = await unlessExited(proc, `switchyard serve (${services} services)`, started);
    const share = await versionShare(url, 1000, STICKY_HEADER, 'v2');
    if (share < 0.07 || share > 0.13) throw new Error(`the 10 % canary is not in place: v2 served ${(share * 100).toFixed(1)} % of 1000 keys`);
    return { services, pid: proc.pid as number, url, startupMs, startedRssBytes: treeRssBytes(proc.pid as number), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function canary(adminUrl: string): Promise<void> {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  for (const [path, body] of [
    ['rollout', { candidate: 'v2', reason: 'bench/route-scale' }],
    ['weight', { weight: 10, reason: 'bench/route-scale' }],
  ] as const) {
    const res = await fetch(`${adminUrl}/api/v1/services/${MEASURED_SERVICE}/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`admin POST ${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
}
