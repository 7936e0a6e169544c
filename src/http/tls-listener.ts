import { X509Certificate } from 'node:crypto';
import type { RequestListener, Server } from 'node:http';
import { createServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { Logger } from '../app/logger.js';
import type { ServerMaterial } from '../tls/material.js';
import type { TlsFeed } from '../tls/tls-registry.js';

/** Picks a connection's application protocol from the client's ALPN offer; undefined refuses the handshake. */
export type AlpnChoice = (offer: { servername: string; protocols: string[] }) => string | undefined;

/** The TLS listeners, by the config field their material comes from. */
export type ListenerSlot = 'proxy' | 'admin';

/** The part of a TLS listener a reload replaces: its certificate, key, client CA and minimum version. */
export function secureContextOptions(tls: ServerMaterial): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: tls.minVersion, ...(tls.ca === null ? {} : { ca: tls.ca }) };
}

/**
 * A TLS listener's options. `require`: the handshake fails without a client
 * certificate `ca` signed. `optional`: a certificate is asked for, and the
 * handshake goes on without one and with a bad one too (Node cannot fail a
 * handshake for a bad certificate without failing it for a missing one), so
 * the server above answers a bad one with a clear 403 (unverifiedClientCert)
 * instead of a reset.
 */
export function listenerTlsOptions(tls: ServerMaterial): TlsOptions {
  return { ...secureContextOptions(tls), requestCert: tls.clientAuth !== null, rejectUnauthorized: tls.clientAuth === 'require' };
}

/**
 * Why a request on a listener with `clientAuth: optional` is refused, or null:
 * a client that sends a certificate means to be known by it, and one that did
 * not verify is a misconfigured or forged client. A client that sends none,
 * one that verified, and any request over plain HTTP pass.
 */
export function unverifiedClientCert(socket: Socket, slot: ListenerSlot): string | null {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized === true || (socket as TLSSocket).getPeerX509Certificate() === undefined) return null;
  const cause = tls.authorizationError === undefined ? 'not verified' : String(tls.authorizationError);
  return `the client certificate did not verify against ${slot}.tls.ca (${cause}); send a certificate that CA signed, or none`;
}

/**
 * An HTTPS server on `slot`'s material that follows the feed: a reload swaps
 * the certificate (and client CA) for the next handshakes, connections already
 * open keep theirs. It stops following when closed. Its closeAllConnections
 * also ends connections still in their handshake, which node:http does not
 * track: a client that never finishes one would otherwise hold a shutdown for
 * the 120 s handshake timeout. `alpn` picks the protocol of each connection
 * from those the client offers (node:https alone offers http/1.1).
 */
export function createTlsServer(slot: ListenerSlot, material: ServerMaterial, feed: TlsFeed, log: Logger, handler: RequestListener, alpn?: AlpnChoice): Server {
  const server = createServer({ ...listenerTlsOptions(material), ...(alpn === undefined ? {} : { ALPNCallback: alpn }) }, handler);
  const field = `${slot}.tls`;
  let serving = material;
  const off = feed.onChange((bundle) => {
    const next = bundle[slot];
    if (next === null || (next.cert === serving.cert && next.key === serving.key && next.ca === serving.ca)) return;
    try {
      server.setSecureContext(secureContextOptions(next));
    } catch (err) {
      // The registry built a context from the same files before announcing them, so this is not expected; a reload must never end the gateway.
      log.error({ field, err: (err as Error).message }, `${field}: the reloaded certificate was refused, still serving the one loaded before`);
      return;
    }
    serving = next;
    const leaf = new X509Certificate(next.cert);
    log.info(
      { field, serial: leaf.serialNumber, subject: leaf.subject.replaceAll('\n', ', '), expires: new Date(leaf.validTo).toISOString() },
      `${field}: new handshakes use the certificate with serial ${leaf.serialNumber}`,
    );
  });
  server.once('close', off);
  const raw = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const socket of raw) socket.destroy();
  };
  return server;
}
