import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The ports the quick start uses: the example config's proxy, admin and two models. */
const PORTS = [8080, 8081, 9001, 9002];

const run = promisify(execFile);
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The command lines of each shell block under the README's "Quick start", comments dropped. */
function quickStart(): string[][] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('\n## Quick start');
  const section = readme.slice(from, readme.indexOf('\n## ', from + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== ''),
  );
  if (blocks.length === 0) throw new Error('README.md has no ```sh block under "## Quick start"');
  return blocks;
}

async function free(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '0.0.0.0', () => probe.close(() => resolve(true)));
  });
}

describe("the README's quick start, on a fresh clone", () => {
  it('installs, starts, answers its first request with 200 from a model, and takes the CLI commands it shows', { timeout: 420_000 }, async () => {
    const [lines = [], cli = []] = quickStart();
    expect(lines.slice(0, 2)).toEqual(['npm install', 'npm start']);
    const request = lines[2];
    expect(request).toMatch(/^curl /);
    for (const port of PORTS) expect(await free(port), `port ${port} is taken; the quick start needs it`).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'sy-quickstart-'));
    dirs.push(dir);
    const clone = join(dir, 'switchyard');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    // From the local npm cache where it can: the same packages, without waiting on the registry.
    const env = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
    await run('sh', ['-c', lines[0]!], { cwd: clone, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });

    const start = spawn('sh', ['-c', lines[1]!], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    start.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    start.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => start.once('close', (code) => resolve(code)));
    try {
      await vi.waitFor(() => expect(out).toMatch(/try:\n {2}curl .*\n/), { timeout: 60_000, interval: 200 });
      // The banner prints the README's request, word for word.
      expect(out).toContain(`try:\n  ${request}\n`);

      const answer = execFileSync('sh', ['-c', `${request} -i`], { encoding: 'utf8' });
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(answer).toMatch(/\r\nx-model-version: v1\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ model: 'v1', score: expect.any(Number) });

      // The second block, typed into another terminal in the clone: each command succeeds.
      expect(cli[0]).toMatch(/^export SWITCHYARD_ADMIN_TOKEN=/);
      expect(cli.length).toBeGreaterThan(1);
      for (const command of cli.slice(1)) {
        const done = await run('sh', ['-c', `${cli[0]} && ${command}`], { cwd: clone, env: process.env, timeout: 60_000 }).then(
          () => 'exit 0',
          (err: { code?: number; stderr?: string }) => `exit ${err.code}: ${err.stderr}`,
        );
        expect(done, command).toBe('exit 0');
      }
    } finally {
      process.kill(-start.pid!, 'SIGTERM');
      await closed;
    }
    for (const port of PORTS) expect(await free(port), `port ${port} is still taken after npm start stopped`).toBe(true);
  });
});
