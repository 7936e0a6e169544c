/**
 * The config every replica of a bench fleet shares, written once as an
 * operator writes it for a Deployment: the ports and the snapshot folder come
 * from the environment (`${PROXY_PORT}`, `${ADMIN_PORT}`, `${SNAPSHOT_DIR}`),
 * the rest is the same file for all.
 */

export const TOKEN = 'bench-fleet-operator-token-0123';
export const STICKY_HEADER = 'x-user-id';
/** The candidate every fleet service may start. */
export const CANDIDATE = 'v2';
/** The fleet's Redis key prefix (the gateway's default, written out so the bench's own subscription names the same channel). */
export const KEY_PREFIX = 'sy';

/** Analysis and drain timings: the gateway's own defaults, or short ones so the lease and drain phases run in seconds. */
export type Timings = 'production' | 'fast';

export interface FleetConfig {
  readonly services: number;
  readonly redisUrl: string;
  /** Origin of every service's stable v1. */
  readonly stable: string;
  /** Origin of every service's candidate v2, but the regressing one's. */
  readonly candidate: string;
  /** The one service whose v2 is a backend of its own that the bench makes fail. */
  readonly regressing?: { readonly service: string; readonly candidate: string };
  readonly timings: Timings;
}

export function serviceName(i: number): string {
  return `model-${String(i).padStart(4, '0')}`;
}

/** The path the proxy routes to service `i`. */
export function servicePath(i: number): string {
  return `/models/m${String(i).padStart(4, '0')}/predict`;
}

const ANALYSIS: Record<Timings, string> = {
  production: '',
  // One-second rounds: the lease (3 intervals) and a verdict take seconds, not tens of seconds.
  fast: 'analysis: { interval: 1s, bucket: 1s, flush: 1s, settle: 2s }\n',
};

export function fleetConfigYaml(o: FleetConfig): string {
  const services = Array.from({ length: o.services }, (_, i) => {
    const name = serviceName(i);
    const candidate = o.regressing?.service === name ? o.regressing.candidate : o.candidate;
    return `  ${name}:
    match: { pathPrefix: ${servicePath(i).replace(/\/predict$/, '')} }
    stickiness: { header: ${STICKY_HEADER} }
    versions:
      v1: { targets: ["${o.stable}"] }
      ${CANDIDATE}: { targets: ["${candidate}"] }
    rollout: { stable: v1 }
`;
  });
  return `# written by bench/fleet: ${o.services} services, ${o.timings} timings
proxy: { listen: "127.0.0.1:\${PROXY_PORT}", drainDelay: 1s, drainTimeout: 5s }
admin:
  listen: "127.0.0.1:\${ADMIN_PORT}"
  tokens:
    - { name: bench, token: "${TOKEN}", role: operator }
store: { redis: { url: "${o.redisUrl}", keyPrefix: "${KEY_PREFIX}" } }
# One folder per replica, as each pod has its own filesystem.
snapshot: { dir: "\${SNAPSHOT_DIR}" }
${ANALYSIS[o.timings]}log: { level: info }
services:
${services.join('')}`;
}
