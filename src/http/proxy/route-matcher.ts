import type { ServiceConfig } from '../../config/schema.js';
import type { ErrorCode } from '../../core/errors.js';
import { normalisePath, type NormalisedPath } from './path-normalise.js';
import { echo, parseRequestTarget } from './request-target.js';
import { PrefixTrie, type PrefixRoute } from './route-trie.js';

/** Where a request goes: its service and the origin-form target to forward. */
export interface Located {
  readonly ok: true;
  readonly service: string;
  /** The normalised path and the query as received. */
  readonly path: string;
  /** The authority of an absolute-form request line, null for origin-form. */
  readonly authority: string | null;
}

export interface NotLocated {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly service: string | null;
}

/**
 * Finds the service a request belongs to: the longest matching path prefix,
 * host-specific rules before host-less ones, the port of the host ignored.
 * One trie per host and one for host-less rules, built once from the config,
 * so a lookup costs the same with one service or thousands.
 */
export class RouteMatcher {
  private readonly anyHost = new PrefixTrie();
  private readonly byHost = new Map<string, PrefixTrie>();

  constructor(services: Readonly<Record<string, Pick<ServiceConfig, 'match'>>>) {
    for (const [service, cfg] of Object.entries(services)) {
      const host = cfg.match.host?.toLowerCase();
      let trie = this.anyHost;
      if (host !== undefined) {
        trie = this.byHost.get(host) ?? new PrefixTrie();
        this.byHost.set(host, trie);
      }
      trie.add(service, cfg.match.pathPrefix);
    }
  }

  /**
   * Reads the request target, resolves its dot-segments and matches the result.
   * A `..` may remove only segments below the service prefix, both the one the
   * path is written under and the one it resolves to: `/fraud/../admin` is
   * refused rather than routed elsewhere, since no client means it.
   */
  locate(url: string, hostHeader: string | undefined): Located | NotLocated {
    const target = parseRequestTarget(url, hostHeader);
    if (!target.ok) return { ok: false, code: 'SY_ERR_BAD_TARGET', detail: target.detail, service: null };
    const path = normalisePath(target.path);
    if (!path.ok) return { ok: false, code: 'SY_ERR_PATH_TRAVERSAL', detail: `path ${echo(target.path)} climbs above the root with ".."`, service: null };
    const route = this.match(target.host, path.path);
    const breached = path.climbedTo === Infinity ? null : this.breached(target.host, path, route);
    if (breached !== null) {
      const detail = `path ${echo(target.path)} climbs out of the prefix ${breached.pathPrefix} of service ${breached.service} with ".."`;
      return { ok: false, code: 'SY_ERR_PATH_TRAVERSAL', detail, service: breached.service };
    }
    if (route === null) return { ok: false, code: 'SY_ERR_NO_ROUTE', detail: `no service matches ${echo(`${target.host ?? ''}${target.path}`)}`, service: null };
    // Unchanged origin-form is forwarded as the very string received.
    const same = target.authority === null && path.path === target.path;
    return { ok: true, service: route.service, path: same ? url : path.path + target.query, authority: target.authority };
  }

  /** The route of `path` (starting with `/`, no query) for a Host value. */
  match(hostHeader: string | undefined, path: string): PrefixRoute | null {
    // Without host-specific rules the Host is not read at all.
    const own = hostHeader === undefined || this.byHost.size === 0 ? undefined : this.byHost.get(stripPort(hostHeader).toLowerCase());
    return own?.longest(path) ?? this.anyHost.longest(path);
  }

  /** The route whose prefix a `..` of the path removed a segment of, if any. */
  private breached(host: string | undefined, path: NormalisedPath, resolved: PrefixRoute | null): PrefixRoute | null {
    const written = this.match(host, path.written);
    for (const route of [written, resolved]) {
      if (route !== null && path.climbedTo < route.depth) return route;
    }
    return null;
  }
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
