import { describe, expect, test } from 'vitest';
import { RouteMatcher } from '../../src/http/proxy/route-matcher.js';

const matcher = new RouteMatcher({
  'fraud-scorer': { match: { pathPrefix: '/fraud' } },
  'fraud-v2': { match: { pathPrefix: '/fraud/v2' } },
  'api': { match: { pathPrefix: '/api' } },
  'fraud-eu': { match: { pathPrefix: '/fraud', host: 'eu.models.test' } },
});

function refusal(url: string, host: string | undefined = 'gw'): { code: string; detail: string; service: string | null } {
  const located = matcher.locate(url, host);
  if (located.ok) throw new Error(`${url} was routed to ${located.service} as ${located.path}`);
  return located;
}

describe('locating a request', () => {
  test('forwards the resolved path with the query as received', () => {
    expect(matcher.locate('/fraud/x/../score?next=/../../admin', 'gw')).toEqual({ ok: true, service: 'fraud-scorer', path: '/fraud/score?next=/../../admin', authority: null });
    expect(matcher.locate('/fraud/./a/%2e/b', 'gw')).toMatchObject({ service: 'fraud-scorer', path: '/fraud/a/b' });
    expect(matcher.locate('/fraud/org%2Fmodel/score', 'gw')).toMatchObject({ service: 'fraud-scorer', path: '/fraud/org%2Fmodel/score' });
  });

  test('forwards an unchanged origin-form target as the very string received', () => {
    const url = '/fraud/score?x=1.5&y=%2e%2e';
    expect(matcher.locate(url, 'gw')).toMatchObject({ ok: true, path: url });
  });

  test('matches the service of the resolved path', () => {
    expect(matcher.locate('/fraud/v2/x/../score', 'gw')).toMatchObject({ service: 'fraud-v2', path: '/fraud/v2/score' });
  });

  test('refuses a .. that leaves the service prefix the path is written under', () => {
    for (const url of ['/fraud/../api/v1/services', '/fraud/%2e%2e/metrics', '/fraud/%2E%2e/metrics', '/fraud/..%2fadmin', '/fraud/..%5Cadmin', '/fraud/..\\admin', '/fraud/..;/api', '/fraud/x/../../api']) {
      const refused = refusal(url);
      expect(refused.code, url).toBe('SY_ERR_PATH_TRAVERSAL');
      expect(refused.service, url).toBe('fraud-scorer');
      expect(refused.detail, url).toContain('climbs out of the prefix /fraud of service fraud-scorer');
    }
  });

  test('refuses a .. that reaches into the prefix of the service it resolves to', () => {
    expect(refusal('/other/../api/x')).toMatchObject({ code: 'SY_ERR_PATH_TRAVERSAL', service: 'api' });
    expect(refusal('/fraud/x/../v2/score')).toMatchObject({ code: 'SY_ERR_PATH_TRAVERSAL', service: 'fraud-v2' });
  });

  test('refuses a .. above the root', () => {
    for (const url of ['/..', '/../fraud/score', '/fraud/../../fraud/score', '/fraud/%2e%2e%2f%2e%2e/x']) {
      expect(refusal(url), url).toMatchObject({ code: 'SY_ERR_PATH_TRAVERSAL', detail: expect.stringContaining('climbs above the root') });
    }
  });

  test('repeats at most a bounded piece of the path in a refusal', () => {
    const long = `/fraud/${'a/'.repeat(4_000)}${'../'.repeat(4_002)}admin`;
    const refused = refusal(long);
    expect(refused.code).toBe('SY_ERR_PATH_TRAVERSAL');
    expect(refused.detail.length).toBeLessThan(200);
    const unmatched = refusal(`/nothing/${'x'.repeat(10_000)}`);
    expect(unmatched.code).toBe('SY_ERR_NO_ROUTE');
    expect(unmatched.detail.length).toBeLessThan(200);
  });

  test('takes the host of an absolute-form target over the Host header and forwards origin-form', () => {
    expect(matcher.locate('http://EU.models.test:8080/fraud/score?x=1', 'gw')).toEqual({
      ok: true,
      service: 'fraud-eu',
      path: '/fraud/score?x=1',
      authority: 'EU.models.test:8080',
    });
    expect(matcher.locate('HTTPS://gw/fraud/x/../score', 'eu.models.test')).toMatchObject({ service: 'fraud-scorer', path: '/fraud/score', authority: 'gw' });
    expect(matcher.locate('http://gw?x=1', 'gw')).toEqual({ ok: false, code: 'SY_ERR_NO_ROUTE', detail: 'no service matches "gw/"', service: null });
  });

  test('refuses targets that are neither origin-form nor absolute http(s)', () => {
    for (const url of ['*', 'gw:443', 'ftp://gw/fraud/score', 'http:///fraud/score', 'http://user@gw/fraud/score', '/fraud/score#frag', 'http://gw/fraud#x']) {
      expect(refusal(url).code, url).toBe('SY_ERR_BAD_TARGET');
    }
  });
});
