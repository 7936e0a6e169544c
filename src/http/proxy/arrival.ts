import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerMaterial } from '../../tls/material.js';
import type { TlsFeed } from '../../tls/tls-registry.js';
import { unverifiedClientCert } from '../tls-listener.js';
import { clientScheme, singleHeader, type Scheme } from './headers.js';

/** How clients reach the proxy port: over TLS or not, and through which hops. */
export interface ProxyListener {
  /** HTTPS when it holds `proxy` material at creation; later material is used by the next handshakes. */
  readonly tls: TlsFeed;
  /** Whether a connection comes from `proxy.trustedProxies`, whose X-Forwarded-Proto is believed (see trustedHops). */
  readonly trustedHop: (socket: Socket) => boolean;
}

/**
 * What the gateway vouches for about the client, forwarded as X-Forwarded-Proto and -Host: the
 * scheme it used (clientScheme) and, from a trusted hop only, the host that hop says it asked
 * for (null: the request's own Host).
 */
export interface Forwarded {
  readonly scheme: Scheme;
  readonly host: string | null;
}

/** What the listener decides about a request before it is routed: what its client used, or why it is refused. */
export interface Arrival {
  forwardedOf(headers: IncomingHttpHeaders, socket: Socket): Forwarded;
  certRefusal(socket: Socket): string | null;
}

export function arrival(listener: ProxyListener, material: ServerMaterial | null): Arrival {
  const own: Scheme = material === null ? 'http' : 'https';
  // Most requests claim nothing: they share one answer, and the hop is not looked up.
  const claimsNothing: Forwarded = { scheme: own, host: null };
  return {
    forwardedOf: (headers, socket) => {
      const proto = singleHeader(headers['x-forwarded-proto']);
      const host = singleHeader(headers['x-forwarded-host']);
      if (proto === undefined && host === undefined) return claimsNothing;
      const trusted = listener.trustedHop(socket);
      return { scheme: proto === undefined ? own : clientScheme(own, trusted, proto), host: trusted && host !== undefined ? host : null };
    },
    certRefusal: material?.clientAuth === 'optional' ? (socket) => unverifiedClientCert(socket, 'proxy') : () => null,
  };
}
