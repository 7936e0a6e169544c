import { describe, expect, it } from 'vitest';
import { describeConnectFailure, type TlsGiven } from '../../src/cli/connect-errors.js';

/** A failed fetch as Node's fetch and the CLI's TLS transport both throw it: the socket's error in `cause`. */
function fetchFailed(code: string | undefined, message: string, extra: Record<string, unknown> = {}): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), code === undefined ? {} : { code }, extra) });
}

const NONE: TlsGiven = { ca: null, cert: null };
const GIVEN: TlsGiven = { ca: '--ca /etc/sy/ca.pem', cert: '--cert /etc/sy/cli.pem' };
const HTTPS = 'https://gateway:8443';
const HTTP = 'http://gateway:8081';

describe('why the CLI could not reach the gateway', () => {
  it('an untrusted certificate: pass --ca, or the --ca given is not the one', () => {
    const err = fetchFailed('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate');
    expect(describeConnectFailure(err, HTTPS, NONE)).toBe('its certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE); pass --ca or set SWITCHYARD_ADMIN_CA');
    expect(describeConnectFailure(fetchFailed('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed'), HTTPS, GIVEN)).toBe(
      "its certificate is not signed by the CA in --ca /etc/sy/ca.pem (SELF_SIGNED_CERT_IN_CHAIN); give the CA that signed the gateway's admin.tls.cert",
    );
  });

  it('an expired certificate, and one for another host name', () => {
    expect(describeConnectFailure(fetchFailed('CERT_HAS_EXPIRED', 'certificate has expired'), HTTPS, GIVEN)).toBe(
      'its certificate has expired (CERT_HAS_EXPIRED); the gateway must load a renewed admin.tls.cert',
    );
    const reason = "Host: gateway. is not in the cert's altnames: DNS:localhost";
    expect(describeConnectFailure(fetchFailed('ERR_TLS_CERT_ALTNAME_INVALID', 'Hostname/IP does not match', { reason }), HTTPS, GIVEN)).toBe(
      `its certificate is not issued for this host (ERR_TLS_CERT_ALTNAME_INVALID: ${reason}); use a host name it lists in the admin URL`,
    );
  });

  it('a client certificate required (TLS 1.3), or a handshake refused without one (TLS 1.2)', () => {
    const required = fetchFailed('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required');
    expect(describeConnectFailure(required, HTTPS, NONE)).toBe(
      'it requires a client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED); pass --cert and --key, or set SWITCHYARD_ADMIN_CERT and SWITCHYARD_ADMIN_KEY',
    );
    const refused = fetchFailed('EPROTO', 'write EPROTO 80:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure');
    expect(describeConnectFailure(refused, HTTPS, NONE)).toMatch(/^it refused the TLS handshake \(EPROTO: alert handshake failure\); if its admin port requires client certificates, pass --cert and --key/);
  });

  it('a client certificate refused: by an alert from a TLS server in front, or by Node closing the connection', () => {
    expect(describeConnectFailure(fetchFailed('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca'), HTTPS, GIVEN)).toBe(
      'it refused the client certificate in --cert /etc/sy/cli.pem (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA); give one its admin.tls.ca signed',
    );
    expect(describeConnectFailure(fetchFailed('ECONNRESET', 'socket hang up'), HTTPS, GIVEN)).toBe(
      'the connection was closed during TLS (ECONNRESET); if the gateway requires client certificates, the one in --cert /etc/sy/cli.pem is not signed by its admin.tls.ca',
    );
    expect(describeConnectFailure(fetchFailed('ECONNRESET', 'socket hang up'), HTTPS, NONE)).toBe('ECONNRESET');
  });

  it('the wrong scheme: https:// to a plain port, http:// to a TLS one', () => {
    const wrongVersion = fetchFailed('ERR_SSL_WRONG_VERSION_NUMBER', '80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number');
    expect(describeConnectFailure(wrongVersion, HTTPS, NONE)).toBe(
      'it does not answer TLS on that port (ERR_SSL_WRONG_VERSION_NUMBER); if its admin port has no admin.tls, use an http:// admin URL',
    );
    expect(describeConnectFailure(fetchFailed('UND_ERR_SOCKET', 'other side closed'), HTTP, NONE)).toBe(
      'the connection was closed without an answer (UND_ERR_SOCKET); if its admin port has admin.tls, use an https:// admin URL',
    );
  });

  it('anything else keeps its code, or its message, and a timeout reads as one', () => {
    expect(describeConnectFailure(fetchFailed('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8081'), HTTP, NONE)).toBe('ECONNREFUSED');
    expect(describeConnectFailure(fetchFailed('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8443'), HTTPS, GIVEN)).toBe('ECONNREFUSED');
    expect(describeConnectFailure(fetchFailed(undefined, 'something odd'), HTTPS, NONE)).toBe('something odd');
    expect(describeConnectFailure(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), HTTPS, NONE)).toBe('no answer in time');
  });
});
