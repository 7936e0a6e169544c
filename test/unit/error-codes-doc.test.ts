import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ERRORS } from '../../src/core/errors.js';

/**
 * Every error code the gateway can report is documented in docs/api.md's
 * error table, with its HTTP status, and every code the docs name exists:
 * a code added without docs, or documented but gone, fails here.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface DocumentedCode {
  readonly code: string;
  readonly status: number;
}

/** The rows of the table under `## Error codes`: `| \`SY_ERR_X\` | 400 | meaning | what to do |`. */
function errorTable(markdown: string): DocumentedCode[] {
  const start = markdown.search(/^## Error codes\s*$/m);
  if (start < 0) throw new Error('docs/api.md has no "## Error codes" section');
  const section = markdown.slice(start).split(/\n## /)[0] as string;
  return [...section.matchAll(/^\|\s*`(SY_ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => ({ code: m[1] as string, status: Number(m[2]) }));
}

/** The problems between the codes defined and the ones documented, each in one line. */
function tableProblems(defined: Readonly<Record<string, { readonly status: number }>>, documented: readonly DocumentedCode[]): string[] {
  const problems: string[] = [];
  const rows = new Map<string, number>();
  for (const { code, status } of documented) {
    if (rows.has(code)) problems.push(`${code}: documented twice`);
    rows.set(code, status);
    const def = defined[code];
    if (def === undefined) problems.push(`${code}: documented but not defined in src/core/errors.ts`);
    else if (def.status !== status) problems.push(`${code}: documented as ${status}, defined as ${def.status}`);
  }
  for (const code of Object.keys(defined)) if (!rows.has(code)) problems.push(`${code}: defined in src/core/errors.ts but missing from the error table`);
  return problems;
}

/** Every `SY_ERR_X` named in a text (not the `SY_ERR_...` placeholder). */
function codesNamed(text: string): string[] {
  return [...text.matchAll(/SY_ERR_[A-Z][A-Z_]*[A-Z]/g)].map((m) => m[0]);
}

const DOC_FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

describe('the error-table check', () => {
  const defined = { SY_ERR_A: { status: 400 }, SY_ERR_B: { status: 503 } };

  test('passes a table with every code at its status', () => {
    const doc = '## Error codes\n\n| code | HTTP |\n| --- | ---: |\n| `SY_ERR_A` | 400 | a | b |\n| `SY_ERR_B` | 503 | a | b |\n';
    expect(tableProblems(defined, errorTable(doc))).toEqual([]);
  });

  test('names a code missing, one gone, one at the wrong status and one twice', () => {
    const doc = '## Error codes\n\n| `SY_ERR_A` | 404 | a | b |\n| `SY_ERR_C` | 400 | a | b |\n| `SY_ERR_C` | 400 | a | b |\n\n## Next\n\n| `SY_ERR_B` | 503 | x | y |\n';
    expect(tableProblems(defined, errorTable(doc))).toEqual([
      'SY_ERR_A: documented as 404, defined as 400',
      'SY_ERR_C: documented but not defined in src/core/errors.ts',
      'SY_ERR_C: documented twice',
      'SY_ERR_C: documented but not defined in src/core/errors.ts',
      'SY_ERR_B: defined in src/core/errors.ts but missing from the error table',
    ]);
  });

  test('reads codes, not the placeholder', () => {
    expect(codesNamed('`SY_ERR_...` and SY_ERR_… but `SY_ERR_NOT_GRPC` (415)')).toEqual(['SY_ERR_NOT_GRPC']);
  });
});

describe('error codes in the docs', () => {
  test("docs/api.md's error table has every code of src/core/errors.ts, at its status, once", () => {
    expect(tableProblems(ERRORS, errorTable(read('docs/api.md')))).toEqual([]);
  });

  test('every code the README and docs/ name exists', () => {
    const defined = new Set(Object.keys(ERRORS));
    const unknown = DOC_FILES.flatMap((file) => codesNamed(read(file)).filter((code) => !defined.has(code)).map((code) => `${file}: ${code}`));
    expect(DOC_FILES).toContain(join('docs', 'api.md'));
    expect(unknown).toEqual([]);
  });
});
