import { describe, expect, test } from 'vitest';
import { didYouMean, nearestName } from '../../src/core/nearest-name.js';

const SERVICE_FIELDS = ['protocol', 'grpc', 'match', 'stickiness', 'versions', 'timeouts', 'tls', 'analysis', 'fallback', 'health', 'releaseWindows', 'guardrail', 'shadow', 'rollout'];

describe('nearestName', () => {
  test.each([
    ['stickyness', 'stickiness'],
    ['stratgey', 'strategy'],
    ['wieght', 'weight'],
    ['rollouts', 'rollout'],
    ['releasewindows', 'releaseWindows'],
    ['TLS', 'tls'],
    ['gaurdrail', 'guardrail'],
  ])('%s is taken for %s', (name, nearest) => {
    expect(nearestName(name, [...SERVICE_FIELDS, 'strategy', 'weight'])).toBe(nearest);
  });

  test.each([['colour'], ['metrics'], ['ab'], ['tl'], ['shadowing'], ['versionsList']])('%s is close to no known name', (name) => {
    expect(nearestName(name, SERVICE_FIELDS)).toBeNull();
  });

  test('short names tolerate one edit and names under three characters only a change of case', () => {
    expect(nearestName('bak', ['bake'])).toBe('bake');
    expect(nearestName('bk', ['bake'])).toBeNull();
    expect(nearestName('to', ['tls'])).toBeNull();
    expect(nearestName('TO', ['to'])).toBe('to');
  });

  test('the closest name wins; of equally close ones, the first listed', () => {
    expect(nearestName('helth', ['hello', 'health'])).toBe('health');
    expect(nearestName('cat', ['bat', 'hat'])).toBe('bat');
    expect(nearestName('weight', ['weight'])).toBeNull();
  });
});

describe('didYouMean', () => {
  test('adds the suggestion, or nothing', () => {
    expect(didYouMean('stickyness', SERVICE_FIELDS)).toBe('; did you mean "stickiness"?');
    expect(didYouMean('colour', SERVICE_FIELDS)).toBe('');
  });
});
