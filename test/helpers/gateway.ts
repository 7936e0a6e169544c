import { silentLogger } from '../../src/app/logger.js';
import { parseConfig } from '../../src/config/load.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789';
export const READ_TOKEN = 'test-read-token-0123456789abc';

export interface ServiceSpec {
  readonly versions: Readonly<Record<string, readonly string[]>>;
  readonly extra?: string;
}

/** A config text with one service `fraud-scorer` on /fraud, stable v1. */
export function configYaml(versions: Readonly<Record<string, readonly string[]>>, storeYaml = '', serviceExtra = ''): string {
  const versionLines = Object.entries(versions)
    .map(([v, targets]) => `      ${v}: { targets: [${targets.map((t) => `"${t}"`).join(', ')}] }`)
    .join('\n');
  return `
proxy: { listen: "127.0.0.1:0" }
admin:
  listen: "127.0.0.1:0"
  tokens:
    - { name: ops, token: "${OPERATOR_TOKEN}", role: operator }
    - { name: viewer, token: "${READ_TOKEN}", role: read }
${storeYaml}
log: { level: silent }
services:
  fraud-scorer:
    match: { pathPrefix: /fraud }
    stickiness: { header: x-user-id, cookie: sy_uid }
    timeouts: { connect: 500ms, request: 1s }
${serviceExtra}
    versions:
${versionLines}
    rollout:
      stable: v1
      strategy: canary
      steps: [ { weight: 10, bake: 1m }, { weight: 50, bake: 1m } ]
`;
}

export async function startTestGateway(yaml: string, options: GatewayOptions = {}): Promise<Gateway> {
  return startGateway(parseConfig(yaml, {}), { log: silentLogger, proxyPort: 0, adminPort: 0, ...options });
}

export async function admin(gateway: Gateway, method: string, path: string, body?: unknown, token = OPERATOR_TOKEN): Promise<Response> {
  return fetch(`${gateway.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
