import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { assign, bucketOf, BUCKETS, type AssignmentState } from '../../src/core/assignment.js';
import type { Override } from '../../src/core/override.js';
import { seededRandom } from '../helpers/seeded-random.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOW = 1_700_000_000_000;
const NO_OVERRIDES: ReadonlyMap<string, Override> = new Map();

function canary(weightBp: number, salt = 'fraud-scorer:v2'): AssignmentState {
  return { stable: 'v1', candidate: 'v2', weightBp, salt, phase: 'progressing' };
}

function override(key: string, version: string, expiresAt: number): Override {
  return { service: 'fraud-scorer', key, version, reason: 'qa pin', author: 'ops', createdAt: NOW - 1_000, expiresAt };
}

function seededKeys(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    keys.push(`user-${Math.floor(random() * 2 ** 32).toString(36)}-${Math.floor(random() * 2 ** 32).toString(36)}`);
  }
  return keys;
}

/**
 * An independent MurmurHash3 x86 32-bit over the UTF-8 bytes, written from the
 * reference algorithm. If bucketOf ever stops being murmur3 of the UTF-8 text,
 * replicas built another way (or another language) would disagree with it.
 */
function referenceMurmur3(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const tail = bytes.length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const rest = bytes.length & 3;
  if (rest === 3) k ^= (bytes[tail + 2] ?? 0) << 16;
  if (rest >= 2) k ^= (bytes[tail + 1] ?? 0) << 8;
  if (rest >= 1) {
    k ^= bytes[tail] ?? 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

describe('bucketOf', () => {
  test('the reference murmur3 used below matches published test vectors', () => {
    expect(referenceMurmur3('')).toBe(0);
    expect(referenceMurmur3('hello')).toBe(0x248bfa47);
    expect(referenceMurmur3('Hello, world!')).toBe(0xc0363e43);
    expect(referenceMurmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  test('pinned buckets: a change of hash function, separator or modulus fails here', () => {
    // Computed once with murmurhash3 x86 32-bit of `salt:key`, mod 10000. Never edit these to make a test pass:
    // a different value means every sticky user moves on upgrade.
    expect(bucketOf('fraud-scorer:v2', 'user-1')).toBe(6428);
    expect(bucketOf('fraud-scorer:v2', 'user-2')).toBe(2821);
    expect(bucketOf('fraud-scorer:v2', 'alice')).toBe(5284);
    expect(bucketOf('fraud-scorer', 'bob')).toBe(3451);
    expect(bucketOf('s', 'ユーザー42')).toBe(4820);
    expect(bucketOf('s', '😀')).toBe(9134);
  });

  test('the bucket is murmur3 of the UTF-8 bytes of salt:key, mod 10000, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (salt, key) => {
        expect(bucketOf(salt, key)).toBe(referenceMurmur3(`${salt}:${key}`) % BUCKETS);
      }),
    );
  });

  test('the bucket is always an integer in 0..9999', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (salt, key) => {
        const bucket = bucketOf(salt, key);
        expect(Number.isInteger(bucket)).toBe(true);
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(BUCKETS);
      }),
    );
  });

  test('another node process computes the same bucket for 1000 keys (determinism across processes)', () => {
    const keys = [...seededKeys(990, 7), '', 'ユーザー42', '😀', 'a:b', 'x'.repeat(300), 'é', '\u0000', ' ', 'user-1', 'alice'];
    const salts = ['fraud-scorer:v2', 'ranker:v7'];
    // The child knows nothing of this code base: only the murmurhash package and the contract's one line.
    const script = `
      import murmurhash from 'murmurhash';
      import { readFileSync } from 'node:fs';
      const { salts, keys } = JSON.parse(readFileSync(0, 'utf8'));
      const out = salts.map((salt) => keys.map((key) => murmurhash.v3(salt + ':' + key) % 10000));
      process.stdout.write(JSON.stringify(out));
    `;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      input: JSON.stringify({ salts, keys }),
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', TZ: 'Pacific/Kiritimati', LANG: 'tr_TR.UTF-8' },
    });
    const fromChild = JSON.parse(stdout) as number[][];
    expect(keys).toHaveLength(1000);
    expect(fromChild).toEqual(salts.map((salt) => keys.map((key) => bucketOf(salt, key))));
  });
});

describe('assign', () => {
  const salt = fc.string({ maxLength: 40 });
  const key = fc.string({ maxLength: 40 });
  const weight = fc.integer({ min: 0, max: BUCKETS });

  test('raising the weight never moves a key back to stable', () => {
    fc.assert(
      fc.property(salt, key, weight, weight, (s, k, a, b) => {
        const [w1, w2] = a <= b ? [a, b] : [b, a];
        const low = assign(canary(w1, s), NO_OVERRIDES, k, NOW);
        const high = assign(canary(w2, s), NO_OVERRIDES, k, NOW);
        if (low.version === 'v2') expect(high.version).toBe('v2');
        if (high.version === 'v1') expect(low.version).toBe('v1');
      }),
      { numRuns: 2_000 },
    );
  });

  test('a key goes to the candidate exactly when its bucket is below the weight', () => {
    fc.assert(
      fc.property(salt, key, weight, (s, k, w) => {
        const result = assign(canary(w, s), NO_OVERRIDES, k, NOW);
        const bucket = bucketOf(s, k);
        expect(result).toEqual({ version: bucket < w ? 'v2' : 'v1', reason: 'bucket', bucket });
      }),
    );
  });

  test('the same salt, key and weight always give the same version', () => {
    fc.assert(
      fc.property(salt, key, weight, fc.integer(), (s, k, w, now) => {
        const first = assign(canary(w, s), NO_OVERRIDES, k, now);
        const again = assign({ stable: 'v1', candidate: 'v2', weightBp: w, salt: `${s}`, phase: 'progressing' }, new Map(), `${k}`, now + 1);
        expect(again).toEqual(first);
      }),
    );
  });

  test('weight 0 sends nobody to the candidate and weight 10000 sends everybody', () => {
    fc.assert(
      fc.property(salt, key, (s, k) => {
        expect(assign(canary(0, s), NO_OVERRIDES, k, NOW).version).toBe('v1');
        expect(assign(canary(BUCKETS, s), NO_OVERRIDES, k, NOW).version).toBe('v2');
      }),
    );
  });

  test('100k random keys at weight 10% land within ±0.5% of 10% on the candidate', () => {
    for (const [seed, salt] of [
      [1, 'fraud-scorer:v2'],
      [2, 'ranker:v7'],
      [3, ''],
    ] as const) {
      const keys = seededKeys(100_000, seed);
      const onCandidate = keys.filter((k) => assign(canary(1_000, salt), NO_OVERRIDES, k, NOW).version === 'v2').length;
      const share = onCandidate / keys.length;
      expect(share, `salt ${JSON.stringify(salt)}`).toBeGreaterThanOrEqual(0.095);
      expect(share, `salt ${JSON.stringify(salt)}`).toBeLessThanOrEqual(0.105);
    }
  });

  test('sequential user ids (user-0 .. user-99999) also land within ±0.5% of 10%', () => {
    let onCandidate = 0;
    for (let i = 0; i < 100_000; i++) if (bucketOf('fraud-scorer:v2', `user-${i}`) < 1_000) onCandidate++;
    expect(onCandidate / 100_000).toBeGreaterThanOrEqual(0.095);
    expect(onCandidate / 100_000).toBeLessThanOrEqual(0.105);
  });

  test('buckets fill every 1% band of the range evenly (no band off by more than 15%)', () => {
    const bands = new Array<number>(100).fill(0);
    for (const k of seededKeys(100_000, 4)) {
      const band = Math.floor(bucketOf('fraud-scorer:v2', k) / 100);
      bands[band] = (bands[band] ?? 0) + 1;
    }
    // Expected 1000 per band, standard deviation ~31: 150 is beyond 4.5 sigma.
    expect(Math.min(...bands)).toBeGreaterThan(850);
    expect(Math.max(...bands)).toBeLessThan(1_150);
  });

  test('different salts pick independent users: at 10% each the overlap is near 1%', () => {
    const keys = seededKeys(100_000, 5);
    for (const [saltA, saltB] of [
      ['fraud-scorer:v2', 'fraud-scorer:v3'],
      ['fraud-scorer:v2', 'ranker:v2'],
      ['a', 'b'],
    ] as const) {
      let both = 0;
      for (const k of keys) if (bucketOf(saltA, k) < 1_000 && bucketOf(saltB, k) < 1_000) both++;
      const overlap = both / keys.length;
      expect(overlap, `${saltA} vs ${saltB}`).toBeGreaterThan(0.008);
      expect(overlap, `${saltA} vs ${saltB}`).toBeLessThan(0.012);
    }
  });

  test('an explicit version request beats an override and the bucket', () => {
    const overrides = new Map([['alice', override('alice', 'v2', NOW + 60_000)]]);
    expect(assign(canary(BUCKETS), overrides, 'alice', NOW, 'v1')).toEqual({ version: 'v1', reason: 'header', bucket: null });
    expect(assign(canary(0), overrides, 'alice', NOW, 'v3')).toEqual({ version: 'v3', reason: 'header', bucket: null });
  });

  test('a live override beats the bucket, both ways', () => {
    const toStable = new Map([['alice', override('alice', 'v1', NOW + 60_000)]]);
    const toCandidate = new Map([['alice', override('alice', 'v2', NOW + 60_000)]]);
    expect(assign(canary(BUCKETS), toStable, 'alice', NOW)).toEqual({ version: 'v1', reason: 'override', bucket: null });
    expect(assign(canary(0), toCandidate, 'alice', NOW)).toEqual({ version: 'v2', reason: 'override', bucket: null });
  });

  test('an override applies also when the service has no candidate', () => {
    const overrides = new Map([['alice', override('alice', 'v2', NOW + 60_000)]]);
    const state: AssignmentState = { stable: 'v1', candidate: null, weightBp: 0, salt: 'fraud-scorer', phase: 'stable' };
    expect(assign(state, overrides, 'alice', NOW)).toEqual({ version: 'v2', reason: 'override', bucket: null });
  });

  test('a rollback returns users pinned to the rolled-back candidate to stable, other pins still count', () => {
    const overrides = new Map([
      ['alice', override('alice', 'v2', NOW + 60_000)],
      ['bob', override('bob', 'v1', NOW + 60_000)],
    ]);
    const rolledBack: AssignmentState = { stable: 'v1', candidate: 'v2', weightBp: 0, salt: 'fraud-scorer:v2', phase: 'rolled_back' };
    expect(assign(rolledBack, overrides, 'alice', NOW).version).toBe('v1');
    expect(assign(rolledBack, overrides, 'bob', NOW)).toEqual({ version: 'v1', reason: 'override', bucket: null });
    expect(assign({ ...rolledBack, phase: 'progressing' }, overrides, 'alice', NOW)).toEqual({ version: 'v2', reason: 'override', bucket: null });
  });

  test('an override pins only its own key', () => {
    const overrides = new Map([['alice', override('alice', 'v2', NOW + 60_000)]]);
    const bob = assign(canary(0), overrides, 'bob', NOW);
    expect(bob).toEqual({ version: 'v1', reason: 'bucket', bucket: bucketOf('fraud-scorer:v2', 'bob') });
  });

  test('an expired override is ignored, judged by the now passed in (expiry instant counts as expired)', () => {
    const overrides = new Map([['alice', override('alice', 'v2', NOW)]]);
    const bucket = bucketOf('fraud-scorer:v2', 'alice');
    expect(assign(canary(0), overrides, 'alice', NOW - 1)).toEqual({ version: 'v2', reason: 'override', bucket: null });
    expect(assign(canary(0), overrides, 'alice', NOW)).toEqual({ version: 'v1', reason: 'bucket', bucket });
    expect(assign(canary(0), overrides, 'alice', NOW + 86_400_000)).toEqual({ version: 'v1', reason: 'bucket', bucket });
  });

  test('with no candidate every key gets stable with reason "stable" and no bucket', () => {
    fc.assert(
      fc.property(key, weight, (k, w) => {
        const state: AssignmentState = { stable: 'v1', candidate: null, weightBp: w, salt: 'fraud-scorer', phase: 'stable' };
        expect(assign(state, NO_OVERRIDES, k, NOW)).toEqual({ version: 'v1', reason: 'stable', bucket: null });
      }),
    );
  });
});
