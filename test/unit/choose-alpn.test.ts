import { describe, expect, it } from 'vitest';
import { chooseAlpn } from '../../src/http/proxy/h2-accept.js';

describe('the ALPN choice of a TLS proxy port that serves gRPC', () => {
  it.each([
    [['h2'], 'h2'],
    [['h2', 'http/1.1'], 'http/1.1'],
    [['http/1.1', 'h2'], 'http/1.1'],
    [['http/1.1'], 'http/1.1'],
    [['spdy/3', 'h3'], undefined],
  ])('offered %j, picks %s', (protocols, chosen) => {
    expect(chooseAlpn({ protocols })).toBe(chosen);
  });
});
