import { describe, expect, it } from 'vitest';
import { listenerTlsOptions, secureContextOptions } from '../../src/http/tls-listener.js';
import type { ServerMaterial } from '../../src/tls/material.js';

const material = (clientAuth: ServerMaterial['clientAuth']): ServerMaterial => ({
  cert: 'CERT',
  key: 'KEY',
  ca: clientAuth === null ? null : 'CA',
  clientAuth,
  minVersion: 'TLSv1.3',
});

describe('admin listener TLS options', () => {
  it('require refuses the handshake without a verified certificate; optional asks and lets the app decide; none asks nothing', () => {
    const flags = (m: ServerMaterial) => {
      const { requestCert, rejectUnauthorized } = listenerTlsOptions(m);
      return { requestCert, rejectUnauthorized };
    };
    expect(flags(material('require'))).toEqual({ requestCert: true, rejectUnauthorized: true });
    expect(flags(material('optional'))).toEqual({ requestCert: true, rejectUnauthorized: false });
    expect(flags(material(null))).toEqual({ requestCert: false, rejectUnauthorized: false });
  });

  it('a reload swaps the certificate, key, client CA and minimum version, and nothing else', () => {
    expect(secureContextOptions(material('optional'))).toEqual({ cert: 'CERT', key: 'KEY', ca: 'CA', minVersion: 'TLSv1.3' });
    expect(secureContextOptions(material(null))).toEqual({ cert: 'CERT', key: 'KEY', minVersion: 'TLSv1.3' });
  });
});
