import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pollUntil, versionShare } from './http-probe.js';
import { own, stopTree } from './proc-tree.js';

/**
 * nginx as the proxy people would put there instead: `split_clients` on the sticky
 * header for a 90/10 split onto two upstreams with keep-alive, run from its own prefix
 * directory (config, pid, logs and temp paths inside it) so it needs no system set-up.
 * It does the same work per request as Switchyard: the version and a request id go
 * upstream and come back as response headers, with the usual X-Forwarded-* headers.
 */

export interface Nginx {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** The nginx binary (Debian installs it in /usr/sbin, which a non-root PATH may lack), or null. */
export function nginxBinary(): string | null {
  for (const candidate of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx']) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8' });
    if (probe.error === undefined && probe.status === 0) return candidate;
  }
  return null;
}

export function nginxVersion(binary: string): string {
  const probe = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return (probe.stderr + probe.stdout).trim().replace(/^nginx version: /, '');
}

/** The hard limit of open files (/proc/self/limits), which each nginx worker may raise itself to. */
export function openFilesLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const hard = line?.trim().split(/\s+/)[4];
    return hard === undefined || hard === 'unlimited' ? 1_048_576 : Number(hard);
  } catch {
    return 1024;
  }
}

export interface NginxOptions {
  readonly backend: string;
  readonly workers: number;
  readonly keyHeader: string;
  /** Connections each worker may hold: clients and upstreams together. */
  readonly workerConnections: number;
  readonly canaryPercent: number;
}

export function nginxConfig(dir: string, port: number, opts: NginxOptions): string {
  const upstream = new URL(opts.backend).host;
  const headerVar = `http_${opts.keyHeader.toLowerCase().replace(/-/g, '_')}`;
  const pool = (name: string) => `  upstream ${name} {
    server ${upstream};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
  }`;
  return `# written by bench/proxy
worker_processes ${opts.workers};
worker_rlimit_nofile ${Math.min(openFilesLimit(), opts.workerConnections * 2)};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${opts.workerConnections}; }
http {
  access_log off;
${tempPaths(dir)}
  # like Switchyard's proxy.keepAliveTimeout; no cap on requests per client connection (Switchyard has none)
  keepalive_timeout 65s;
  keepalive_requests 1000000;
${pool('v1')}
${pool('v2')}
  split_clients "\${${headerVar}}" $model_version {
    ${opts.canaryPercent}% v2;
    * v1;
  }
  # a request id passes through or is made, as Switchyard does
  map $http_x_request_id $bench_request_id {
    "" $request_id;
    default $http_x_request_id;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$model_version;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $proxy_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header x-model-version $model_version;
      proxy_set_header x-request-id $bench_request_id;
      add_header x-model-version $model_version always;
      add_header x-request-id $bench_request_id always;
    }
  }
}
`;
}

/** A running nginx of the bench: its process, port and how to stop it. */
export interface LaunchedNginx {
  readonly proc: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts `binary` on a free port with the config `configFor(dir, port)` gives
 * (its prefix and temp files in a fresh `dir`), and returns once `ready(port)`
 * resolved; an nginx that exits first is an error carrying its error log.
 */
/** The http block's temp paths, inside the run's own prefix `dir`: nginx needs no system set-up. */
export function tempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/tmp/${kind};`).join('\n');
}

export async function launchNginx(binary: string, tmpPrefix: string, configFor: (dir: string, port: number) => string, ready: (port: number) => Promise<void>): Promise<LaunchedNginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'nginx.conf'), configFor(dir, port));
  // -e: the error log before the config is read (else the compiled-in /var/log path).
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'];
  const proc = spawn(binary, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  own(proc);
  const stop = async () => {
    // SIGQUIT: graceful shutdown; the bench's clients are gone by then.
    await stopTree(proc, 'SIGQUIT', 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => {
        const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8').trim() : '';
        reject(new Error(`nginx exited with ${String(code)}${log === '' ? '' : `:\n${log}`}`));
      }),
    );
    exited.catch(() => undefined); // only the start waits on it
    await Promise.race([ready(port), exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, port, stop };
}

export async function startNginx(binary: string, opts: NginxOptions): Promise<Nginx> {
  const url = (port: number) => `http://127.0.0.1:${port}/predict`;
  const { proc, port, stop } = await launchNginx(binary, 'sy-bench-nginx-', (dir, port) => nginxConfig(dir, port, opts), async (port) => {
    await pollUntil(url(port), (r) => r.ok, 10_000, { [opts.keyHeader]: 'ready-probe' });
    const share = await versionShare(url(port), 1000, opts.keyHeader, 'v2');
    if (Math.abs(share - opts.canaryPercent / 100) > 0.03) throw new Error(`nginx split_clients sent ${(share * 100).toFixed(1)} % of 1000 keys to v2`);
  });
  return { proc, pid: proc.pid as number, url: url(port), stop };
}
