import type { Clock } from '../app/clock.js';
import type { Logger } from '../app/logger.js';
import type { RequestObserver, ShadowObserver } from '../app/request-observer.js';
import type { Config } from '../config/schema.js';
import { listen } from '../http/listen.js';
import { Resolver, type RouteViews } from '../http/proxy/resolve.js';
import { trustedHops } from '../http/proxy/headers.js';
import { createProxyServer } from '../http/proxy/server.js';
import type { Ejection } from '../http/proxy/upstream-pool.js';
import type { TlsFeed } from '../tls/tls-registry.js';

export interface ProxyPlaneOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly newId: () => string;
  readonly proxyPort?: number;
  /** The routing state to decide on: the routing table itself, or a worker's mirror of it. */
  readonly views: RouteViews;
  /** Called on the request path for every finished request; never awaits. */
  readonly observer: RequestObserver;
  /** Called when a mirrored pair has both answers, or a copy was dropped; never awaits. */
  readonly shadowObserver: ShadowObserver;
  readonly onFallback: (service: string, from: string, to: string) => void;
  readonly onEjection: (service: string, ejection: Ejection) => void;
  /** The proxy listener's and the targets' TLS material, kept current across reloads. */
  readonly tls: TlsFeed;
}

/** The request path: the proxy server with its resolver and upstream pools, in memory only. */
export interface ProxyPlane {
  readonly proxyUrl: string;
  /** See ProxyServer.drain. */
  drain(): Promise<{ cut: number }>;
  close(): Promise<void>;
}

export async function startProxyPlane(config: Config, o: ProxyPlaneOptions): Promise<ProxyPlane> {
  const onEjection = (service: string, ejection: Ejection) => {
    o.onEjection(service, ejection);
    o.log.warn({ service, ...ejection }, 'target ejected after failing in a row');
  };
  const resolver = new Resolver(config.services, o.views, o.clock, o.newId, onEjection, o.tls);
  const proxy = createProxyServer(
    resolver,
    {
      log: o.log,
      observer: o.observer,
      shadowObserver: o.shadowObserver,
      now: () => o.clock.now(),
      accessLog: config.proxy.accessLog,
      onFallback: o.onFallback,
    },
    // HTTPS with proxy.tls, following its reloads; X-Forwarded-Proto is believed from proxy.trustedProxies only.
    { tls: o.tls, trustedHop: trustedHops(config.proxy.trustedProxies) },
    // Over TLS, ALPN offers h2 only when a service speaks gRPC: browsers and curl keep HTTP/1.1 otherwise.
    Object.values(config.services).some((s) => s.protocol === 'grpc'),
  );
  proxy.server.keepAliveTimeout = config.proxy.keepAliveTimeout;
  const secure = o.tls.current().proxy !== null;
  const proxyUrl = await listen(proxy.server, config.proxy.listen.host, o.proxyPort ?? config.proxy.listen.port, 'proxy.listen', secure);
  return {
    proxyUrl,
    drain: () => proxy.drain(config.proxy.drainDelay, config.proxy.drainTimeout),
    close: () => proxy.close(),
  };
}
