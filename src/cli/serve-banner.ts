import type { Config } from '../config/schema.js';
import type { SampleTarget } from '../demo/sample-models.js';

/** A URL to reach a listener from this host: a wildcard listen address is reached on loopback. */
function reachable(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}

/** A request to try: the first HTTP service, with its host and sticky header when it has them. */
export function firstRequest(config: Pick<Config, 'services'>, proxyUrl: string): string | null {
  const entry = Object.values(config.services).find((s) => s.protocol === 'http');
  if (entry === undefined) return null;
  const prefix = entry.match.pathPrefix.replace(/\/$/, '');
  const headers = [
    ...(entry.match.host === undefined ? [] : [`-H 'host: ${entry.match.host}'`]),
    ...(entry.stickiness.header === undefined ? [] : [`-H '${entry.stickiness.header}: alice'`]),
  ];
  // The listener's certificate names the served host, not loopback: -k, for a first try on this host.
  const insecure = proxyUrl.startsWith('https:') ? ' -k' : '';
  return [`curl -s${insecure} ${reachable(proxyUrl)}${prefix}/score`, ...headers, `-d '{"amount": 42}'`].join(' ');
}

/**
 * What `serve --sample-models` prints once everything listens: where the
 * gateway and its sample models are, and a request that a model answers.
 */
export function serveBanner(o: { version: string; configFile: string; config: Pick<Config, 'services'>; proxyUrl: string; adminUrl: string; models: readonly SampleTarget[] }): string[] {
  const request = firstRequest(o.config, o.proxyUrl);
  return [
    `Switchyard ${o.version} serving ${o.configFile}: proxy ${o.proxyUrl}, admin ${o.adminUrl}`,
    `sample models: ${o.models.map((m) => `${m.service} ${m.version} on ${m.host}:${m.port}`).join(', ')}`,
    ...(request === null ? [] : ['try:', `  ${request}`]),
  ];
}
