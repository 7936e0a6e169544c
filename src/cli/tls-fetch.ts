import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { AdminTls } from './admin-tls.js';
import type { Fetch } from './api-client.js';

/** Statuses whose answer has no body; a Response refuses one for them. */
const NO_BODY = new Set([204, 205, 304]);

async function toResponse(res: IncomingMessage): Promise<Response> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const one of value === undefined ? [] : [value].flat()) headers.append(name, one);
  }
  const status = res.statusCode ?? 0;
  return new Response(NO_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers });
}

/**
 * The part of fetch the admin client uses, over node:https with the CLI's CA
 * and client certificate: the global fetch takes neither without undici's
 * dispatcher, which the CLI does not depend on. It fails as fetch does (a
 * TypeError whose `cause` is the socket's error, or the signal's reason), so
 * the client explains both alike. One connection per request: a CLI run makes one.
 */
export function tlsFetch(tls: AdminTls): Fetch {
  const pem = {
    // Besides Node's roots, not instead of them: a CA given to OpenSSL replaces the default store.
    ...(tls.ca === null ? {} : { ca: [...rootCertificates, tls.ca.pem] }),
    ...(tls.cert === null || tls.key === null ? {} : { cert: tls.cert.pem, key: tls.key.pem }),
  };
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const fail = (err: unknown) => reject(init.signal.aborted ? init.signal.reason : new TypeError('fetch failed', { cause: err }));
      const body = init.body === null ? null : Buffer.from(init.body, 'utf8');
      const headers = body === null ? init.headers : { ...init.headers, 'content-length': String(body.length) };
      const req = request(url, { method: init.method, headers, signal: init.signal, agent: false, ...pem }, (res) => {
        toResponse(res).then(resolve, fail);
      });
      req.on('error', fail);
      req.end(body ?? undefined);
    });
}
