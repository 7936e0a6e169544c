/**
 * The gateway config of bench/route-scale: the measured service and, for the
 * large variant, as many others as asked for, written as an operator would.
 */

export const MEASURED_SERVICE = 'bench-model';
/** The measured service's prefix: short and host-less, so a scan sorted longest-first reaches it last. */
export const MEASURED_PATH = '/predict';
export const STICKY_HEADER = 'x-user-id';
export const ADMIN_TOKEN = 'bench-operator-token-0123456789';
/** One other service in this many is host-specific, so the host table has entries too. */
const HOST_EVERY = 4;
const TENANTS = 16;

export interface ScaleConfig {
  /** Services in the config, the measured one included. */
  readonly services: number;
  readonly proxyPort: number;
  readonly adminPort: number;
  readonly backend: string;
}

export function scaleConfigYaml(o: ScaleConfig): string {
  const others = Array.from({ length: o.services - 1 }, (_, i) => otherService(i + 1, o.backend));
  return `# written by bench/route-scale: ${o.services} service(s)
proxy: { listen: "127.0.0.1:${o.proxyPort}", drainDelay: 0s, drainTimeout: 2s }
admin:
  listen: "127.0.0.1:${o.adminPort}"
  tokens:
    - { name: bench, token: "${ADMIN_TOKEN}", role: operator }
log: { level: warn }
services:
  ${MEASURED_SERVICE}:
    match: { pathPrefix: ${MEASURED_PATH} }
    stickiness: { header: ${STICKY_HEADER} }
    timeouts: { connect: 2s, request: 30s }
    versions:
      v1: { targets: ["${o.backend}"] }
      v2: { targets: ["${o.backend}"] }
    rollout:
      stable: v1
      strategy: canary
      # one step that bakes longer than the bench runs: the canary stays at 10 %
      steps: [ { weight: 10, bake: 24h } ]
${others.join('')}`;
}

/** Model `n` of the rest: its own prefix under /models, a quarter of them for one tenant's host only. */
function otherService(n: number, backend: string): string {
  const id = String(n).padStart(4, '0');
  const host = n % HOST_EVERY === 0 ? `, host: tenant-${n % TENANTS}.models.test` : '';
  return `  model-${id}:
    match: { pathPrefix: /models/m${id}${host} }
    versions:
      v1: { targets: ["${backend}"] }
    rollout: { stable: v1 }
`;
}
