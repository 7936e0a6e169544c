import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RouteMatcher } from '../../src/http/proxy/route-matcher.js';

type Rules = Record<string, { match: { pathPrefix: string; host?: string } }>;

/**
 * The matcher as it was before the trie, kept as the reference: every rule in
 * turn, host-specific ones first, then the longest prefix, compared as strings
 * with the path and query.
 */
function referenceScan(rules: Rules): (hostHeader: string | undefined, url: string) => string | null {
  const sorted = Object.entries(rules)
    .map(([service, cfg]) => ({ service, host: cfg.match.host?.toLowerCase(), prefix: cfg.match.pathPrefix }))
    .sort((a, b) => Number(b.host !== undefined) - Number(a.host !== undefined) || b.prefix.length - a.prefix.length);
  return (hostHeader, url) => {
    const host = hostHeader === undefined ? undefined : stripPort(hostHeader).toLowerCase();
    for (const rule of sorted) {
      if (rule.host !== undefined && rule.host !== host) continue;
      if (rule.prefix === '/') return rule.service;
      if (!url.startsWith(rule.prefix)) continue;
      const next = url.charAt(rule.prefix.length);
      if (next === '' || next === '/' || next === '?' || rule.prefix.endsWith('/')) return rule.service;
    }
    return null;
  };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The service the trie matcher picks for an origin-form url, or null. */
function trieMatch(matcher: RouteMatcher, hostHeader: string | undefined, url: string): string | null {
  const located = matcher.locate(url, hostHeader);
  return located.ok ? located.service : null;
}

function manyServices(count: number): Rules {
  const rules: Rules = {};
  for (let i = 0; i < count; i++) {
    const id = String(i).padStart(4, '0');
    // Every fourth service is host-specific, every tenth nested one level below another.
    const pathPrefix = i % 10 === 9 ? `/models/m${String(i - 1).padStart(4, '0')}/v2` : `/models/m${id}`;
    rules[`svc-${id}`] = { match: i % 4 === 3 ? { pathPrefix, host: `tenant-${i % 7}.models.test` } : { pathPrefix } };
  }
  rules['catch-all'] = { match: { pathPrefix: '/' } };
  return rules;
}

describe('route matcher', () => {
  test('finds each of 1,000 services by its own prefix, host and path, as the reference scan does', () => {
    const rules = manyServices(1_000);
    const matcher = new RouteMatcher(rules);
    const reference = referenceScan(rules);
    for (const [service, { match }] of Object.entries(rules)) {
      const host = match.host === undefined ? 'gw' : `${match.host.toUpperCase()}:8443`;
      for (const url of [match.pathPrefix, `${match.pathPrefix}/predict?x=/a`, `${match.pathPrefix}x/predict`]) {
        expect(trieMatch(matcher, host, url), `${host} ${url}`).toBe(reference(host, url));
      }
      if (match.pathPrefix !== '/') expect(trieMatch(matcher, host, `${match.pathPrefix}/predict`)).toBe(service);
    }
  });

  test('prefers the longest prefix, at segment boundaries only', () => {
    const matcher = new RouteMatcher({ short: { match: { pathPrefix: '/fraud' } }, long: { match: { pathPrefix: '/fraud/v2' } }, slash: { match: { pathPrefix: '/fraud/' } } });
    expect(trieMatch(matcher, 'gw', '/fraud')).toBe('short');
    expect(trieMatch(matcher, 'gw', '/fraud?q=1')).toBe('short');
    expect(trieMatch(matcher, 'gw', '/fraud/')).toBe('slash');
    expect(trieMatch(matcher, 'gw', '/fraud/score')).toBe('slash');
    expect(trieMatch(matcher, 'gw', '/fraud/v2')).toBe('long');
    expect(trieMatch(matcher, 'gw', '/fraud/v2/score')).toBe('long');
    expect(trieMatch(matcher, 'gw', '/fraud/v22')).toBe('slash');
    expect(trieMatch(matcher, 'gw', '/fraudulent')).toBeNull();
  });

  test('puts host-specific rules before host-less ones, ignores the port and the case of the host', () => {
    const matcher = new RouteMatcher({ any: { match: { pathPrefix: '/fraud/v2' } }, eu: { match: { pathPrefix: '/', host: 'EU.models.test' } } });
    expect(trieMatch(matcher, 'eu.models.test:8080', '/fraud/v2/score')).toBe('eu');
    expect(trieMatch(matcher, 'Eu.Models.Test', '/other')).toBe('eu');
    expect(trieMatch(matcher, 'us.models.test', '/fraud/v2/score')).toBe('any');
    expect(trieMatch(matcher, undefined, '/fraud/v2/score')).toBe('any');
    expect(trieMatch(matcher, '[::1]:8080', '/other')).toBeNull();
  });

  test('keeps the first of two services with the same host and prefix', () => {
    const matcher = new RouteMatcher({ first: { match: { pathPrefix: '/fraud' } }, second: { match: { pathPrefix: '/fraud' } } });
    expect(trieMatch(matcher, 'gw', '/fraud/x')).toBe('first');
  });

  const NAME = fc.constantFrom('a', 'b', 'ab', '');
  const PREFIX = fc
    .tuple(fc.array(NAME, { maxLength: 3 }), fc.boolean())
    .map(([names, slash]) => (names.length === 0 ? '/' : `/${names.join('/')}${slash ? '/' : ''}`));
  const HOST = fc.constantFrom('a.test', 'B.test', 'c.test');
  const RULES = fc
    .array(fc.record({ pathPrefix: PREFIX, host: fc.option(HOST, { nil: undefined }) }), { minLength: 1, maxLength: 12 })
    .map((list) => Object.fromEntries(list.map((match, i) => [`s${i}`, { match: match.host === undefined ? { pathPrefix: match.pathPrefix } : match }])));
  const URL = fc
    .tuple(fc.array(NAME, { maxLength: 5 }), fc.constantFrom('', '?', '?q=/a/b', '?/a'))
    .map(([names, query]) => `/${names.join('/')}${query}`);
  const HOST_HEADER = fc.option(fc.tuple(fc.constantFrom('a.test', 'A.TEST', 'b.test', 'c.test', 'd.test'), fc.constantFrom('', ':80', ':8443')).map(([h, p]) => `${h}${p}`), { nil: undefined });

  test('agrees with the reference scan on random rule sets, hosts and paths', () => {
    fc.assert(
      fc.property(RULES, HOST_HEADER, fc.array(URL, { minLength: 1, maxLength: 20 }), (rules, host, urls) => {
        const matcher = new RouteMatcher(rules);
        const reference = referenceScan(rules);
        for (const url of urls) expect(trieMatch(matcher, host, url), `${host} ${url}`).toBe(reference(host, url));
      }),
      { numRuns: 3_000 },
    );
  });
});
