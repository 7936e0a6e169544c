/**
 * Why the gateway could not be reached, in words an operator acts on: the
 * socket's error code, and for TLS what to pass. `fetch` (and tls-fetch.ts)
 * hide the socket's error in `cause`.
 */

/** The TLS files the CLI was given, named as given (`--ca /etc/sy/ca.pem`), or null. */
export interface TlsGiven {
  readonly ca: string | null;
  readonly cert: string | null;
}

/** The admin port's certificate does not chain to a CA the CLI trusts. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/** Alerts a TLS server in front of the admin port sends for a client certificate it does not accept (Node's own server closes instead). */
const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
]);

/** The peer closed the connection without an answer: Node's https, then undici's fetch. */
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

const PASS_CA = 'pass --ca or set SWITCHYARD_ADMIN_CA';
const PASS_CERT = 'pass --cert and --key, or set SWITCHYARD_ADMIN_CERT and SWITCHYARD_ADMIN_KEY';

interface Cause {
  readonly code: string | null;
  readonly message: string;
  readonly reason: string | null;
}

function causeOf(err: unknown): Cause {
  const outer = err instanceof Error ? err : new Error(String(err));
  const inner = (outer.cause ?? outer) as { code?: unknown; message?: unknown; reason?: unknown };
  return {
    code: typeof inner.code === 'string' ? inner.code : null,
    message: typeof inner.message === 'string' ? inner.message : outer.message,
    reason: typeof inner.reason === 'string' ? inner.reason : null,
  };
}

function tlsProblem({ code, message, reason }: Cause, given: TlsGiven): string | null {
  if (code !== null && UNTRUSTED.has(code)) {
    return given.ca === null
      ? `its certificate is not signed by a trusted CA (${code}); ${PASS_CA}`
      : `its certificate is not signed by the CA in ${given.ca} (${code}); give the CA that signed the gateway's admin.tls.cert`;
  }
  if (code === 'CERT_HAS_EXPIRED') return `its certificate has expired (${code}); the gateway must load a renewed admin.tls.cert`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate is not issued for this host (${code}: ${reason ?? message}); use a host name it lists in the admin URL`;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return `it requires a client certificate (${code}); ${PASS_CERT}`;
  if (code !== null && CLIENT_CERT_REFUSED.has(code)) return `it refused the client certificate in ${given.cert ?? 'the request'} (${code}); give one its admin.tls.ca signed`;
  // TLS 1.2 has no "certificate required" alert: a server that requires one fails the handshake.
  if (/alert handshake failure/.test(message) && given.cert === null) {
    return `it refused the TLS handshake (${code ?? 'handshake failure'}: alert handshake failure); if its admin port requires client certificates, ${PASS_CERT}`;
  }
  if (/wrong version number/.test(message)) return `it does not answer TLS on that port (${code ?? 'wrong version number'}); if its admin port has no admin.tls, use an http:// admin URL`;
  return null;
}

/** The part after `cannot reach the gateway at URL: `. */
export function describeConnectFailure(err: unknown, adminUrl: string, given: TlsGiven): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time';
  const cause = causeOf(err);
  const secure = adminUrl.startsWith('https:');
  const tls = secure ? tlsProblem(cause, given) : null;
  if (tls !== null) return tls;
  const shown = cause.code ?? cause.message;
  if (cause.code !== null && CLOSED.has(cause.code)) {
    if (!secure) return `the connection was closed without an answer (${shown}); if its admin port has admin.tls, use an https:// admin URL`;
    if (given.cert !== null) return `the connection was closed during TLS (${shown}); if the gateway requires client certificates, the one in ${given.cert} is not signed by its admin.tls.ca`;
  }
  return shown;
}
