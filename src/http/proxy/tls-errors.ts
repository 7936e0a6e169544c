/**
 * Turns a failed TLS connection to an https:// target into one line an
 * operator can act on, ending with the code Node or OpenSSL gave, e.g.
 * `TLS handshake failed: the certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`.
 * Pure: it reads only the error.
 */

/** What a TLS error carries besides its code and message (Node sets these on a name mismatch). */
export interface TlsErrorLike {
  readonly code?: string | undefined;
  readonly message: string;
  /** The name the certificate was checked against (ERR_TLS_CERT_ALTNAME_INVALID). */
  readonly host?: string | undefined;
  readonly cert?: { readonly subjectaltname?: string | undefined } | undefined;
}

const NOT_TRUSTED = 'the certificate is not signed by a trusted CA';
const CLIENT_CERT_REFUSED = 'the target refused the client certificate (tls.cert)';

/** The target's certificate failed verification: OpenSSL's X509 verify results, as Node names them. */
const CERTIFICATE_CAUSES: ReadonlyMap<string, string> = new Map(Object.entries({
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: NOT_TRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: NOT_TRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: NOT_TRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in a self-signed CA that is not trusted (add it as tls.ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed and not trusted (add it as tls.ca)',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'the certificate has an unreadable validity period',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'the certificate has an unreadable validity period',
  CERT_SIGNATURE_FAILURE: 'the certificate signature is invalid',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'the certificate signature is invalid',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "the issuer's public key cannot be read",
  CERT_REVOKED: 'the certificate was revoked',
  CERT_UNTRUSTED: 'the certificate is not trusted for this purpose',
  CERT_REJECTED: 'the certificate is marked as rejected',
  INVALID_CA: 'a certificate in the chain is not a valid CA',
  PATH_LENGTH_EXCEEDED: 'the certificate chain is longer than its CA allows',
  CERT_CHAIN_TOO_LONG: 'the certificate chain is too long',
  INVALID_PURPOSE: 'the certificate is not issued for TLS servers',
  HOSTNAME_MISMATCH: 'the certificate does not name the target',
}));

/**
 * Alerts and local handshake failures, by OpenSSL's reason as Node turns it
 * into a code (`ERR_SSL_` and the reason in capitals).
 */
const HANDSHAKE_CAUSES: ReadonlyMap<string, string> = new Map(Object.entries({
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the target requires a client certificate and none was sent (set tls.cert and tls.key)',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'the target refused the handshake; it may require a client certificate (tls.cert, tls.key) or share no cipher with the gateway',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the target does not trust the CA of the client certificate (tls.cert)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: CLIENT_CERT_REFUSED,
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: CLIENT_CERT_REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: CLIENT_CERT_REFUSED,
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: CLIENT_CERT_REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: 'the target says the client certificate (tls.cert) was revoked',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the target says the client certificate (tls.cert) has expired',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'the target and the gateway share no TLS version (tls.minVersion)',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'the target and the gateway share no TLS version (tls.minVersion)',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'the target and the gateway share no TLS version (tls.minVersion)',
  ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY: 'the target and the gateway share no cipher',
  ERR_SSL_NO_SHARED_CIPHER: 'the target and the gateway share no cipher',
  ERR_SSL_TLSV1_UNRECOGNIZED_NAME: 'the target has no certificate for the name sent as SNI (tls.serverName)',
  ERR_SSL_TLSV1_ALERT_UNRECOGNIZED_NAME: 'the target has no certificate for the name sent as SNI (tls.serverName)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the target does not speak TLS; is it a plain http:// server?',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the target does not speak TLS; is it a plain http:// server?',
  ERR_SSL_RECORD_LAYER_FAILURE: 'the target does not speak TLS; is it a plain http:// server?',
}));

/** Node's message for a connection that closed during the handshake (code ECONNRESET). */
const CLOSED_IN_HANDSHAKE = 'before secure TLS connection was established';

/** OpenSSL's reason inside a message like `write EPROTO ...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...`. */
const OPENSSL_REASON = /SSL routines:[^:]*:([^:]+):/;

/**
 * The code of a TLS failure: Node's own, or for an EPROTO from a socket write
 * (Node 20 reports some alerts that way) the one Node gives the same OpenSSL
 * reason elsewhere. Null when the error is not about TLS.
 */
function tlsCode(err: TlsErrorLike): string | null {
  const code = err.code ?? '';
  if (CERTIFICATE_CAUSES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return code;
  if (code === 'ECONNRESET' && err.message.includes(CLOSED_IN_HANDSHAKE)) return code;
  if (code !== 'EPROTO') return null;
  const reason = OPENSSL_REASON.exec(err.message)?.[1];
  return reason === undefined ? code : `ERR_SSL_${reason.trim().toUpperCase().replace(/\W+/g, '_')}`;
}

function cause(code: string, err: TlsErrorLike): string {
  const known = CERTIFICATE_CAUSES.get(code) ?? HANDSHAKE_CAUSES.get(code);
  if (known !== undefined) return known;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert?.subjectaltname;
    return `the certificate does not name ${err.host ?? 'the target'}${names === undefined ? '' : ` (it names ${names})`}; set tls.serverName to a name it has`;
  }
  if (code === 'ECONNRESET') return 'the target closed the connection during the handshake; it may not speak TLS, or refused the client certificate';
  const reason = OPENSSL_REASON.exec(err.message)?.[1] ?? err.message;
  return code.startsWith('ERR_SSL_') && code.includes('_ALERT_') ? `the target sent the alert "${reason}"` : reason;
}

/** The line for a TLS failure, or null when `err` is not one (a refused connection, a reset of a working connection). */
export function tlsFailure(err: TlsErrorLike): string | null {
  const code = tlsCode(err);
  return code === null ? null : `TLS handshake failed: ${cause(code, err)} (${code})`;
}
