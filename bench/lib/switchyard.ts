import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canaryAdmin, type ServiceState } from './canary-admin.js';
import { freePort, pollUntil, versionShare } from './http-probe.js';
import { pollUntilHttps, versionShareHttps } from './https-probe.js';
import { own, stopTree, unlessExited } from './proc-tree.js';

/**
 * Switchyard as an operator runs it: `switchyard serve --config FILE --workers N` in
 * its own process tree, with a 10 % sticky canary put in place through the admin API
 * after start, as an operator would. With `listenerTls` the proxy port serves HTTPS
 * (`proxy.tls`) and with `targetTls` the service reaches an https:// backend
 * (`services.<s>.tls`), for bench/proxy-tls; without them the config is bench/proxy's.
 */

export const SERVICE = 'bench-model';
/** The operator token of every bench gateway's config. */
export const TOKEN = 'bench-operator-token-0123456789';
/** The compiled `switchyard` command. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Switchyard {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  readonly adminUrl: string;
  /** Phase, weight (percent) and the last verdict as the admin API reports them. */
  state(): Promise<ServiceState>;
  /**
   * Puts the 10 % canary back if it moved (the analysis judges the two versions, which
   * share one backend, under load); says what it found, or null when it was in place.
   */
  ensureCanary(): Promise<string | null>;
  stop(): Promise<void>;
}

/** Whether this build's `serve` takes `--workers` (another change adds it). */
export function serveHasWorkersFlag(): boolean {
  const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  return help.stdout.includes('--workers');
}

function configYaml(proxyPort: number, adminPort: number, backend: string, keyHeader: string, tls: Pick<SwitchyardOptions, 'listenerTls' | 'targetTls'> = {}): string {
  const listenerTls = tls.listenerTls === undefined ? '' : `, tls: { cert: "${tls.listenerTls.cert}", key: "${tls.listenerTls.key}" }`;
  const target = tls.targetTls;
  const targetTls =
    target === undefined ? '' : `\n    tls: { ca: "${target.ca}"${target.serverName === undefined ? '' : `, serverName: ${target.serverName}`} }`;
  return `# written by bench/proxy
proxy: { listen: "127.0.0.1:${proxyPort}", drainDelay: 0s, drainTimeout: 2s${listenerTls} }
admin:
  listen: "127.0.0.1:${adminPort}"
  tokens:
    - { name: bench, token: "${TOKEN}", role: operator }
log: { level: warn }
services:
  ${SERVICE}:
    match: { pathPrefix: / }
    stickiness: { header: ${keyHeader} }
    timeouts: { connect: 2s, request: 30s }${targetTls}
    versions:
      v1: { targets: ["${backend}"] }
      v2: { targets: ["${backend}"] }
    rollout:
      stable: v1
      strategy: canary
      # one step that bakes longer than the bench runs: the canary stays at 10 %
      steps: [ { weight: 10, bake: 24h } ]
`;
}

export interface SwitchyardOptions {
  readonly backend: string;
  readonly workers: number;
  /** Pass `--workers N` (false when this build has no such flag and N is 1). */
  readonly workersFlag: boolean;
  readonly keyHeader: string;
  /** Node flags for the gateway's processes, e.g. --cpu-prof (node:cluster workers inherit them). */
  readonly execArgv?: readonly string[];
  /** Serve the proxy port over TLS (`proxy.tls`); the bench's own probes trust `ca`, the CA that signed `cert`. */
  readonly listenerTls?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** TLS to an https:// `backend` (`services.<s>.tls`): the private CA and, optionally, the name to verify. */
  readonly targetTls?: { readonly ca: string; readonly serverName?: string };
  /** Extra environment for the gateway's processes. */
  readonly env?: Readonly<Record<string, string>>;
}

export async function startSwitchyard(opts: SwitchyardOptions): Promise<Switchyard> {
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-serve-'));
  const configPath = join(dir, 'switchyard.yaml');
  writeFileSync(configPath, configYaml(proxyPort, adminPort, opts.backend, opts.keyHeader, opts));
  const args = [...(opts.execArgv ?? []), CLI, 'serve', '--config', configPath];
  if (opts.workersFlag) args.push('--workers', String(opts.workers));
  const env = opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } };
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], ...env });
  own(proc);
  const listenerCa = opts.listenerTls?.ca ?? null;
  const url = `${listenerCa === null ? 'http' : 'https'}://127.0.0.1:${proxyPort}/predict`;
  const probeUntilReady = (headers: Record<string, string>) =>
    listenerCa === null ? pollUntil(url, (r) => r.ok, 20_000, headers) : pollUntilHttps(url, listenerCa, 20_000, headers);
  const v2Share = (keys: number) =>
    listenerCa === null ? versionShare(url, keys, opts.keyHeader, 'v2') : versionShareHttps(url, listenerCa, keys, opts.keyHeader, 'v2');
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const stop = async () => {
    await stopTree(proc, 'SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const admin = canaryAdmin(adminUrl, SERVICE, TOKEN, 10, 'bench/proxy');
  try {
    const ready = (async () => {
      await pollUntil(`${adminUrl}/readyz`, (r) => r.ok, 20_000);
      await probeUntilReady({ [opts.keyHeader]: 'ready-probe' });
      await admin.start();
      // State changes reach every worker as they reach replicas: wait until all of them route the canary.
      const deadline = Date.now() + 10_000;
      let share = 0;
      while (Date.now() < deadline) {
        share = await v2Share(1000);
        if (share > 0.07 && share < 0.13) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`the 10 % canary is not in place on every worker: v2 served ${(share * 100).toFixed(1)} % of 1000 keys`);
    })();
    await unlessExited(proc, 'switchyard serve', ready);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    proc,
    pid: proc.pid as number,
    url,
    adminUrl,
    state: admin.state,
    ensureCanary: admin.ensure,
    stop,
  };
}
