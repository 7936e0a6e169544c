import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface ClientOptions {
  /** PEM of the CA that verifies the server; verification is never turned off. */
  readonly ca?: string;
  /** A client certificate and its key (PEM), for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The address the connection comes from (127.0.0.2 to act as another hop on loopback). */
  readonly localAddress?: string;
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The serial number of the certificate this connection's handshake was shown; null over plain HTTP. */
  readonly serial: string | null;
}

/** A request that got no answer: the handshake or the connection failed. */
export interface NoAnswer {
  readonly error: string;
}

/**
 * One GET on a new connection of its own (so a new handshake, never a resumed
 * session), over https:// or http:// as the URL says.
 */
export function get(url: string, o: ClientOptions = {}): Promise<Answer | NoAnswer> {
  const secure = url.startsWith('https:');
  const send = secure ? httpsRequest : httpRequest;
  const tls = secure ? { ca: o.ca, cert: o.cert, key: o.key, maxVersion: o.maxVersion } : {};
  return new Promise((resolve) => {
    const req = send(url, { agent: false, headers: o.headers, localAddress: o.localAddress, ...tls }, (res) => {
      const serial = secure ? (res.socket as TLSSocket).getPeerCertificate().serialNumber : null;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

export function answered(outcome: Answer | NoAnswer): Answer {
  if ('error' in outcome) throw new Error(`no answer: ${outcome.error}`);
  return outcome;
}
