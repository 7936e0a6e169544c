import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientScheme, trustedHops, type Scheme } from '../../src/http/proxy/headers.js';

const LISTENERS: readonly Scheme[] = ['http', 'https'];

describe('the scheme the client used (X-Forwarded-Proto upstream, Secure sticky cookie)', () => {
  it('from a hop that is not trusted, the header is never believed: the listener decides', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LISTENERS), fc.option(fc.string(), { nil: undefined }), (listener, claimed) => {
        expect(clientScheme(listener, false, claimed)).toBe(listener);
      }),
    );
  });

  it('a trusted hop is believed on its first value, whatever the listener', () => {
    for (const listener of LISTENERS) {
      expect(clientScheme(listener, true, 'https')).toBe('https');
      expect(clientScheme(listener, true, 'http')).toBe('http');
      expect(clientScheme(listener, true, 'https, http')).toBe('https');
      expect(clientScheme(listener, true, ' HTTPS ,http')).toBe('https');
      expect(clientScheme(listener, true, 'http,https')).toBe('http');
    }
  });

  it('a trusted hop that says nothing, or something other than http or https, leaves it to the listener', () => {
    for (const listener of LISTENERS) {
      expect(clientScheme(listener, true, undefined)).toBe(listener);
      expect(clientScheme(listener, true, '')).toBe(listener);
      expect(clientScheme(listener, true, 'wss')).toBe(listener);
      expect(clientScheme(listener, true, ', https')).toBe(listener);
    }
  });

  it('the answer is always http or https', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LISTENERS), fc.boolean(), fc.option(fc.string(), { nil: undefined }), (listener, trusted, claimed) => {
        expect(LISTENERS).toContain(clientScheme(listener, trusted, claimed));
      }),
    );
  });
});

describe('trusted hops (proxy.trustedProxies)', () => {
  const from = (remoteAddress: string | undefined) => ({ remoteAddress });

  it('matches single addresses and CIDR blocks of both families', () => {
    const trusted = trustedHops(['127.0.0.2', '10.0.0.0/8', 'fd00::/8', '2001:db8::1']);
    expect(['127.0.0.2', '10.0.0.1', '10.255.255.255', 'fd00::1', 'fdff::ab', '2001:db8::1'].filter((a) => !trusted(from(a)))).toEqual([]);
    expect(['127.0.0.1', '11.0.0.1', '192.168.1.1', 'fe80::1', '2001:db8::2', '::1'].filter((a) => trusted(from(a)))).toEqual([]);
  });

  it('an IPv4 entry matches the IPv4-mapped address a dual-stack listener reports', () => {
    const trusted = trustedHops(['10.0.0.0/8', '192.0.2.7']);
    expect(trusted(from('::ffff:10.1.2.3'))).toBe(true);
    expect(trusted(from('::ffff:192.0.2.7'))).toBe(true);
    expect(trusted(from('::ffff:192.0.2.8'))).toBe(false);
  });

  it('none configured, or a socket already gone: nobody is trusted', () => {
    expect(trustedHops([])(from('127.0.0.1'))).toBe(false);
    expect(trustedHops(['127.0.0.0/8'])(from(undefined))).toBe(false);
  });
});
