import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

/**
 * The docs live in the repository and point only inside it: every relative
 * link of the README, the changelog, bench/README.md and docs/*.md names a
 * file that exists, every anchor into a markdown file names one of its
 * headings, and no file cites anything a cloner does not have.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const THIS_FILE = fileURLToPath(import.meta.url);

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Markdown with fenced code blocks blanked out, line numbers kept. */
function withoutCodeBlocks(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** `[text](target)` and `![alt](target)` links outside code, with their line numbers. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  withoutCodeBlocks(markdown).forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, '');
    for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push({ line: i + 1, target: m[1] as string });
  });
  return links;
}

/** GitHub's anchor for a heading: lowercase, punctuation removed, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings; a repeated heading gets -1, -2, ... as on GitHub. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown)) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const base = slug(m[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/**
 * The problems of one markdown file's links, each naming the file, line and
 * target. `read` gives the text of another file of the repository, or null
 * when there is no such file.
 */
function brokenLinks(file: string, markdown: string, read: (path: string) => string | null): string[] {
  const problems: string[] = [];
  for (const { line, target } of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [path = '', anchor] = target.split('#', 2);
    const where = `${file}:${line}: ${target}`;
    const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (resolved.startsWith('..') || resolved.startsWith(sep)) {
      problems.push(`${where}: points outside the repository`);
      continue;
    }
    const text = read(resolved);
    if (text === null) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(text).has(anchor)) {
      problems.push(`${where}: no heading with that anchor in ${resolved}`);
    }
  }
  return problems;
}

/** A repository file's text (empty for a directory), or null when there is none. */
function readRepoFile(path: string): string | null {
  const full = join(ROOT, path);
  if (!existsSync(full)) return null;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
}

function walk(dir: string): string[] {
  const full = join(ROOT, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : walk(path);
    return [path];
  });
}

const DOCS = ['README.md', 'CHANGELOG.md', join('bench', 'README.md'), ...walk('docs').filter((f) => f.endsWith('.md'))];

/** What only the authors' machines have: the docs must explain things themselves. */
const OUTSIDE_REFERENCES: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  { name: 'DESIGN.md', pattern: /DESIGN\.md/ },
  { name: 'STYLE.md', pattern: /STYLE\.md/ },
  { name: 'research/', pattern: /research\//i },
  { name: 'canary-statistics', pattern: /canary-statistics/i },
  { name: 'research §', pattern: /research\s*§/i },
  { name: '../shared', pattern: /\.\.\/shared/ },
];

function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const { name, pattern } of OUTSIDE_REFERENCES) if (pattern.test(line)) found.push(`${file}:${i + 1}: mentions ${name}`);
  });
  return found;
}

describe('the link checker', () => {
  const files: Record<string, string> = {
    'docs/a.md': '# Title\n\n## When Redis is down\n\n## Drain, signals and upgrades\n\n```sh\n# not a heading\n```\n',
    'docs/b.md': 'x',
  };
  const read = (path: string) => files[path] ?? null;

  test('accepts existing files, headings and external links', () => {
    const doc = '[a](a.md#when-redis-is-down) [b](./b.md) [self](#title) [c](a.md#drain-signals-and-upgrades) [w](https://example.com/x)';
    expect(brokenLinks('docs/a.md', doc, read)).toEqual([]);
  });

  test('reports a missing file, a missing anchor and a path out of the repository, with their lines', () => {
    const doc = '[gone](missing.md)\n[anchor](a.md#not-a-heading)\n[code](a.md#not-a-heading-either)\n[up](../../outside.md)';
    expect(brokenLinks('docs/a.md', doc, read)).toEqual([
      'docs/a.md:1: missing.md: no such file',
      'docs/a.md:2: a.md#not-a-heading: no heading with that anchor in docs/a.md',
      'docs/a.md:3: a.md#not-a-heading-either: no heading with that anchor in docs/a.md',
      'docs/a.md:4: ../../outside.md: points outside the repository',
    ]);
  });

  test('ignores links in code and headings in code blocks', () => {
    expect(linksOf('`[x](nowhere.md)`\n```\n[y](nowhere.md)\n```\n[z](here.md)')).toEqual([{ line: 5, target: 'here.md' }]);
    expect(anchorsOf(files['docs/a.md'] as string).has('not-a-heading')).toBe(false);
  });

  test("slugs headings the way GitHub does", () => {
    expect(slug('Why node:http for the upstream')).toBe('why-nodehttp-for-the-upstream');
    expect(slug('bench:grpc: gRPC beside nginx grpc_pass')).toBe('benchgrpc-grpc-beside-nginx-grpc_pass');
    expect(slug('Alerts in: the Alertmanager webhook')).toBe('alerts-in-the-alertmanager-webhook');
    expect([...anchorsOf('## Notes\n## Notes\n')]).toEqual(['notes', 'notes-1']);
  });

  test('names every outside reference with its line', () => {
    expect(outsideReferences('x.ts', 'ok\n// see DESIGN.md\n// research §2.1A and ../shared/x')).toEqual([
      'x.ts:2: mentions DESIGN.md',
      'x.ts:3: mentions research §',
      'x.ts:3: mentions ../shared',
    ]);
    expect(outsideReferences('x.ts', 'docs/design.md, Operations Research 2022')).toEqual([]);
  });
});

describe('the docs of this repository', () => {
  test('include the README, the changelog, the bench notes and every page under docs/', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', join('bench', 'README.md'), join('docs', 'analysis.md'), join('docs', 'api.md')]));
  });

  test('link only to files and headings that exist', () => {
    const problems = DOCS.flatMap((file) => brokenLinks(file, readFileSync(join(ROOT, file), 'utf8'), readRepoFile));
    expect(problems).toEqual([]);
  });

  test('every page under docs/ is linked from the README', () => {
    const linked = new Set(linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8')).map((l) => l.target.split('#')[0]));
    const pages = walk('docs').filter((f) => f.endsWith('.md')).map((f) => f.split(sep).join('/'));
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });

  test('a section of a doc cited by name in code (docs/analysis.md, "Error rates") is one of its headings', () => {
    const cited = ['src', 'test', 'bench'].flatMap(walk).flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/(docs\/[\w-]+\.md),? \(?"([^"]+)"/g)].map((m) => ({ file, doc: m[1] as string, heading: m[2] as string })),
    );
    expect(cited.length).toBeGreaterThan(0);
    const missing = cited.filter(({ doc, heading }) => !anchorsOf(readRepoFile(doc) ?? '').has(slug(heading)));
    expect(missing).toEqual([]);
  });

  test('no source, test, bench, doc, config or script file cites anything outside the repository', () => {
    const topLevel = readdirSync(ROOT).filter((f) => f.endsWith('.md'));
    const files = [...['src', 'test', 'bench', 'docs', 'config', 'scripts'].flatMap(walk), ...topLevel]
      .filter((file) => join(ROOT, file) !== THIS_FILE)
      .filter((file) => !/\.(png|jpe?g|gif|ico|woff2?)$/i.test(file));
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) => outsideReferences(relative(ROOT, join(ROOT, file)), readFileSync(join(ROOT, file), 'utf8')));
    expect(found).toEqual([]);
  });
});
