import { describe, expect, it } from 'vitest';
import { tlsFailure } from '../../src/http/proxy/tls-errors.js';

/** An error as Node 20 raises it on a client TLS socket: a code and a message, nothing else unless said. */
const err = (code: string, message: string, extra: object = {}) => Object.assign(new Error(message), { code }, extra);

describe('tlsFailure', () => {
  it('names an untrusted target certificate, with the code', () => {
    expect(tlsFailure(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'))).toBe(
      'TLS handshake failed: the certificate is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
    expect(tlsFailure(err('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'))).toMatch(/self-signed CA that is not trusted.*\(SELF_SIGNED_CERT_IN_CHAIN\)$/);
    expect(tlsFailure(err('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'))).toMatch(/the certificate is self-signed and not trusted.*\(DEPTH_ZERO_SELF_SIGNED_CERT\)$/);
  });

  it('says an expired or not yet valid certificate is one', () => {
    expect(tlsFailure(err('CERT_HAS_EXPIRED', 'certificate has expired'))).toBe('TLS handshake failed: the certificate has expired (CERT_HAS_EXPIRED)');
    expect(tlsFailure(err('CERT_NOT_YET_VALID', 'certificate is not yet valid'))).toBe('TLS handshake failed: the certificate is not valid yet (CERT_NOT_YET_VALID)');
  });

  it('names the name checked and the names the certificate has on a mismatch', () => {
    const mismatch = err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ", {
      host: '127.0.0.1',
      cert: { subjectaltname: 'DNS:model.internal' },
    });
    expect(tlsFailure(mismatch)).toBe(
      'TLS handshake failed: the certificate does not name 127.0.0.1 (it names DNS:model.internal); set tls.serverName to a name it has (ERR_TLS_CERT_ALTNAME_INVALID)',
    );
  });

  it('says the target wanted a client certificate, in TLS 1.3 and in TLS 1.2', () => {
    const tls13 = err(
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      '80CC0BB71C7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n',
    );
    expect(tlsFailure(tls13)).toBe('TLS handshake failed: the target requires a client certificate and none was sent (set tls.cert and tls.key) (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)');
    // Node 20 reports this alert of a TLS 1.2 handshake as an EPROTO of the socket write.
    const tls12 = err('EPROTO', 'write EPROTO 804C85BBEE7F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40\n');
    expect(tlsFailure(tls12)).toMatch(/may require a client certificate .*\(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE\)$/);
  });

  it('recognises https sent to a plain http server, whichever way Node reports it', () => {
    const expected = 'TLS handshake failed: the target does not speak TLS; is it a plain http:// server? (ERR_SSL_WRONG_VERSION_NUMBER)';
    expect(tlsFailure(err('EPROTO', 'write EPROTO 80BC82F49E7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n'))).toBe(expected);
    expect(tlsFailure(err('ERR_SSL_WRONG_VERSION_NUMBER', '...:SSL routines:ssl3_get_record:wrong version number:...'))).toBe(expected);
  });

  it('names the TLS version mismatch and the client certificate the target refused', () => {
    expect(tlsFailure(err('EPROTO', 'write EPROTO 80:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/x.c:1605:SSL alert number 70\n'))).toMatch(
      /share no TLS version \(tls\.minVersion\) \(ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION\)$/,
    );
    expect(tlsFailure(err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', '...:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:...'))).toMatch(/does not trust the CA of the client certificate/);
  });

  it('quotes an alert it has no words for, and keeps its code', () => {
    const odd = err('ERR_SSL_TLSV1_ALERT_DECODE_ERROR', '80:error:0A000432:SSL routines:ssl3_read_bytes:tlsv1 alert decode error:../deps/x.c:1605:SSL alert number 50\n');
    expect(tlsFailure(odd)).toBe('TLS handshake failed: the target sent the alert "tlsv1 alert decode error" (ERR_SSL_TLSV1_ALERT_DECODE_ERROR)');
  });

  it('counts a connection closed during the handshake as a TLS failure', () => {
    const closed = err('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established');
    expect(tlsFailure(closed)).toMatch(/closed the connection during the handshake.*\(ECONNRESET\)$/);
  });

  it('is null for failures that are not about TLS, so they stay connect failures or stale connections', () => {
    for (const [code, message] of [
      ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'],
      ['ECONNRESET', 'socket hang up'],
      ['ECONNRESET', 'read ECONNRESET'],
      ['EPIPE', 'write EPIPE'],
      ['ETIMEDOUT', 'connect ETIMEDOUT'],
      ['toString', 'a code that is a property of every object'],
    ] as const) {
      expect(tlsFailure(err(code, message))).toBeNull();
    }
    expect(tlsFailure(new Error('no code at all'))).toBeNull();
  });
});
