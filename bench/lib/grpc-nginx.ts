import { KSERVE_PATH_PREFIX } from '../../src/demo/kserve-proto.js';
import { pollUntilAnswers, versionShare } from './grpc-client.js';
import { launchNginx, tempPaths } from './nginx.js';
import { treeCpuMs, treePids } from './proc-tree.js';

/**
 * nginx as the gRPC proxy people would put there instead: h2c on the listener
 * (`listen … http2`), `split_clients` on the sticky metadata header for a 90/10 split
 * and `grpc_pass` to two upstreams with keep-alive, run from its own prefix directory
 * as in bench/lib/nginx.ts. Debian's nginx is built with the gRPC module.
 */

export interface GrpcNginxOptions {
  readonly stable: string;
  readonly candidate: string;
  readonly workers: number;
  readonly keyHeader: string;
  readonly canaryPercent: number;
  /** Users the split is checked on before the run. */
  readonly users: number;
}

export interface GrpcNginx {
  readonly url: string;
  /** CPU of the worker processes, ms: the master only supervises them. */
  workersCpuMs(): number;
  stop(): Promise<void>;
}

export function grpcNginxConfig(dir: string, port: number, opts: GrpcNginxOptions): string {
  const headerVar = `http_${opts.keyHeader.toLowerCase().replace(/-/g, '_')}`;
  const pool = (name: string, url: string) => `  upstream ${name} {
    server ${new URL(url).host};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
  }`;
  return `# written by bench/grpc
worker_processes ${opts.workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
${tempPaths(dir)}
  # keepalive_requests also caps the calls of one client HTTP/2 connection (1000 by default): no cap, as in Switchyard
  keepalive_timeout 65s;
  keepalive_requests 1000000;
${pool('v1', opts.stable)}
${pool('v2', opts.candidate)}
  split_clients "\${${headerVar}}" $model_version {
    ${opts.canaryPercent}% v2;
    * v1;
  }
  server {
    listen 127.0.0.1:${port} http2;
    location ${KSERVE_PATH_PREFIX}/ {
      grpc_pass grpc://$model_version;
    }
  }
}
`;
}

export async function startGrpcNginx(binary: string, opts: GrpcNginxOptions): Promise<GrpcNginx> {
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const { proc, port, stop } = await launchNginx(binary, 'sy-bench-grpc-nginx-', (dir, port) => grpcNginxConfig(dir, port, opts), async (port) => {
    await pollUntilAnswers(url(port), opts.keyHeader, 10_000);
    const share = await versionShare(url(port), opts.users, opts.keyHeader, 'v2');
    if (Math.abs(share - opts.canaryPercent / 100) > 0.03) throw new Error(`nginx split_clients sent ${(share * 100).toFixed(1)} % of ${opts.users} users to v2`);
  });
  const pid = proc.pid as number;
  return { url: url(port), workersCpuMs: () => treePids(pid).filter((p) => p !== pid).reduce((sum, p) => sum + treeCpuMs(p), 0), stop };
}
