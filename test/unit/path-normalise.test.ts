import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { dotKind, normalisePath } from '../../src/http/proxy/path-normalise.js';

/** RFC 3986 §5.2.4 remove_dot_segments, transcribed step by step as the reference (it clamps at the root). */
function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  while (input !== '') {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../') || input === '/..') {
      input = `/${input.slice(input === '/..' ? 3 : 4)}`;
      output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', 1);
      const end = next === -1 ? input.length : next;
      output += input.slice(0, end);
      input = input.slice(end);
    }
  }
  return output;
}

function resolved(path: string): string {
  const result = normalisePath(path);
  if (!result.ok) throw new Error(`${path} was refused as climbing above the root`);
  return result.path;
}

function segmentsOf(path: string): string[] {
  return path.slice(1).split('/');
}

/** Every way a backend might split and decode a segment; none of the pieces may be a dot-segment. */
function hidesDotSegment(segment: string): boolean {
  const decoded = segment.replace(/%2e/gi, '.').replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  return [segment, decoded].some((reading) => reading.split(/[/\\]/).some((piece) => dotKind(piece) !== null));
}

describe('dot-segment resolution', () => {
  test('resolves the RFC 3986 §5.2.4 examples of absolute paths', () => {
    expect(resolved('/a/b/c/./../../g')).toBe('/a/g');
    expect(resolved('/a/b/c/.')).toBe('/a/b/c/');
    expect(resolved('/a/b/c/..')).toBe('/a/b/');
    expect(resolved('/a//../b')).toBe('/a/b');
    expect(resolved('/a/./b/./')).toBe('/a/b/');
  });

  test('treats %2e in any case as a dot', () => {
    expect(resolved('/fraud/x/%2e%2e/score')).toBe('/fraud/score');
    expect(resolved('/fraud/x/%2E%2e/score')).toBe('/fraud/score');
    expect(resolved('/fraud/x/.%2E/score')).toBe('/fraud/score');
    expect(resolved('/fraud/%2e/score')).toBe('/fraud/score');
  });

  test('splits a segment on %2f, %5c or a backslash where they delimit a dot-segment, and forwards real slashes', () => {
    expect(resolved('/fraud/a%2f..%2fb')).toBe('/fraud/b');
    expect(resolved('/fraud/a%5C..%5Cb')).toBe('/fraud/b');
    expect(resolved('/fraud/a\\..\\b')).toBe('/fraud/b');
    expect(resolved('/fraud/a%2F.%2Fb')).toBe('/fraud/a/b');
  });

  test('keeps encoded separators of a segment without a dot-segment as they are', () => {
    expect(resolved('/fraud/org%2Fmodel/score')).toBe('/fraud/org%2Fmodel/score');
    expect(resolved('/fraud/a%5cb/x.json')).toBe('/fraud/a%5cb/x.json');
  });

  test('treats a dot-segment with ;parameters as one, as servlet containers do', () => {
    expect(resolved('/fraud/x/..;jsessionid=1/score')).toBe('/fraud/score');
    expect(resolved('/fraud/.;x/score')).toBe('/fraud/score');
  });

  test('decodes percent-encoded unreserved characters only', () => {
    expect(resolved('/fr%61ud/%7Euser')).toBe('/fraud/~user');
    expect(resolved('/fraud/a%20b/%2541/%2f')).toBe('/fraud/a%20b/%2541/%2f');
  });

  test('leaves paths without dots, percent signs or backslashes untouched', () => {
    const path = '/fraud/v1/score';
    expect(normalisePath(path)).toEqual({ ok: true, path, written: path, climbedTo: Infinity });
    expect(resolved('/')).toBe('/');
    expect(resolved('/fraud/')).toBe('/fraud/');
  });

  test('reports the shallowest depth a .. climbed to', () => {
    const check = (path: string, climbedTo: number) => expect(normalisePath(path)).toMatchObject({ ok: true, climbedTo });
    check('/fraud/x/../score', 1);
    check('/fraud/../api', 0);
    check('/fraud/..%2fadmin', 0);
    check('/a/b/c/../../d/../e', 1);
    check('/a/./b', Infinity);
  });

  test('refuses a .. above the root, where RFC 3986 would clamp', () => {
    for (const path of ['/..', '/../fraud', '/fraud/../..', '/fraud/%2e%2e%2f..', '/fraud/x/..%5c..%5c..', '/a/..;/..']) {
      expect(normalisePath(path), path).toEqual({ ok: false });
    }
  });

  const SEGMENT = fc.constantFrom('a', 'b', 'ab', '', '.', '..', 'a.b', '...');
  const PLAIN_PATH = fc.array(SEGMENT, { maxLength: 8 }).map((segments) => `/${segments.join('/')}`);

  test('agrees with RFC 3986 remove_dot_segments on plain paths that stay below the root', () => {
    fc.assert(
      fc.property(PLAIN_PATH, (path) => {
        const result = normalisePath(path);
        if (result.ok) expect(result.path).toBe(removeDotSegments(path));
      }),
      { numRuns: 2_000 },
    );
  });

  const ENCODED_PIECE = fc.constantFrom('a', 'b', '', '.', '..', '%2e', '%2E', '%2e%2E', '.%2e', '%2f', '%2F', '%5c', '\\', ';x', '%41', '%25', 'org%2Fmodel');
  const ENCODED_PATH = fc.array(fc.array(ENCODED_PIECE, { minLength: 1, maxLength: 4 }).map((pieces) => pieces.join('')), { maxLength: 6 }).map((segments) => `/${segments.join('/')}`);

  test('leaves no dot-segment under any reading, and is idempotent', () => {
    fc.assert(
      fc.property(ENCODED_PATH, (path) => {
        const result = normalisePath(path);
        if (!result.ok) return;
        expect(segmentsOf(result.path).filter(hidesDotSegment), path).toEqual([]);
        expect(normalisePath(result.path)).toMatchObject({ ok: true, path: result.path, climbedTo: Infinity });
      }),
      { numRuns: 3_000 },
    );
  });

  test('keeps the segments a .. never reached', () => {
    fc.assert(
      fc.property(ENCODED_PATH, (path) => {
        const result = normalisePath(path);
        if (!result.ok || result.climbedTo === Infinity) return;
        const named = segmentsOf(result.written).filter((segment) => dotKind(segment) === null);
        expect(segmentsOf(result.path).slice(0, result.climbedTo)).toEqual(named.slice(0, result.climbedTo));
      }),
      { numRuns: 3_000 },
    );
  });
});
