import type { ServiceConfig } from '../../config/schema.js';

interface Rule {
  readonly service: string;
  readonly host: string | undefined;
  readonly pathPrefix: string;
}

/**
 * Finds the service a request belongs to: the longest matching path prefix,
 * host-specific rules before host-less ones. Built once from the config.
 */
export class RouteMatcher {
  private readonly rules: readonly Rule[];

  constructor(services: Readonly<Record<string, ServiceConfig>>) {
    this.rules = Object.entries(services)
      .map(([service, cfg]) => ({ service, host: cfg.match.host?.toLowerCase(), pathPrefix: cfg.match.pathPrefix }))
      .sort((a, b) => Number(b.host !== undefined) - Number(a.host !== undefined) || b.pathPrefix.length - a.pathPrefix.length);
  }

  match(hostHeader: string | undefined, url: string): string | null {
    const host = hostHeader === undefined ? undefined : stripPort(hostHeader).toLowerCase();
    for (const rule of this.rules) {
      if (rule.host !== undefined && rule.host !== host) continue;
      if (pathMatches(url, rule.pathPrefix)) return rule.service;
    }
    return null;
  }
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** `/fraud` matches `/fraud`, `/fraud/x` and `/fraud?q`, not `/fraudulent`. */
function pathMatches(url: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */ || prefix.endsWith('/');
}
