import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadPort } from '../helpers/backends.js';
import { configYaml } from '../helpers/gateway.js';
import { spawnServe, startServeProcess, type ServeRun } from '../helpers/serve-process.js';

const runs: ServeRun[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function withLogs(yaml: string): string {
  return yaml.replace('log: { level: silent }', 'log: { level: info }');
}

/** Whether something accepts connections on the port. */
async function listening(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(
    () => true,
    () => false,
  );
}

/** Runs one shell command line as a user would type it, with the status code appended on its own line. */
function curl(line: string): { status: string; body: string } {
  const out = execFileSync('sh', ['-c', `${line} -w '\\n%{http_code}'`], { encoding: 'utf8' });
  const lines = out.split('\n');
  return { status: lines.pop() ?? '', body: lines.join('\n') };
}

describe('switchyard serve --sample-models', () => {
  it("starts a model on each of the config's targets, prints a request that one answers with 200, and stops them on SIGTERM", async () => {
    const [p1, p2] = [await deadPort(), await deadPort()];
    const serve = await startServeProcess(withLogs(configYaml({ v1: [`http://127.0.0.1:${p1}`], v2: [`http://localhost:${p2}`] })), ['--sample-models']);
    runs.push(serve);
    await vi.waitFor(() => expect(serve.text.some((l) => l.trim().startsWith('curl '))).toBe(true), { timeout: 10_000 });

    expect(serve.text[0]).toMatch(/^Switchyard \d+\.\d+\.\d+ serving .*config\.yaml: proxy http:\/\/127\.0\.0\.1:\d+, admin http:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.text[1]).toBe(`sample models: fraud-scorer v1 on 127.0.0.1:${p1}, fraud-scorer v2 on localhost:${p2}`);
    const request = serve.text.find((l) => l.trim().startsWith('curl '))!.trim();
    expect(request).toBe(`curl -s ${serve.proxyUrl}/fraud/score -H 'x-user-id: alice' -d '{"amount": 42}'`);
    const answer = curl(request);
    expect(answer.status).toBe('200');
    expect(JSON.parse(answer.body)).toMatchObject({ model: 'v1' });
    expect(await listening(p2)).toBe(true);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(await listening(p1)).toBe(false);
    expect(await listening(p2)).toBe(false);
  });

  it('refuses a target that is not a loopback http:// address, naming it, before anything listens', async () => {
    const proxyPort = await deadPort();
    const yaml = withLogs(configYaml({ v1: ['http://127.0.0.1:9'], v2: ['http://models.internal:8000'] })).replace('proxy: { listen: "127.0.0.1:0" }', `proxy: { listen: "127.0.0.1:${proxyPort}" }`);
    const run = spawnServe(yaml, ['--sample-models']);
    runs.push(run);
    expect(await run.exitWithin(20_000)).toBe(2);
    expect(run.stderr()).toContain('--sample-models starts models only on loopback http:// targets with a port');
    expect(run.stderr()).toContain('services.fraud-scorer.versions.v2.targets[0] (http://models.internal:8000)');
    expect(await listening(proxyPort)).toBe(false);
    expect(await listening(9)).toBe(false);
  });

  it('says which model port is busy, and leaves the models it had started closed', async () => {
    const free = await deadPort();
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as { port: number }).port;
    const run = spawnServe(withLogs(configYaml({ v1: [`http://127.0.0.1:${free}`], v2: [`http://127.0.0.1:${busyPort}`] })), ['--sample-models']);
    runs.push(run);
    expect(await run.exitWithin(20_000)).toBe(2);
    expect(run.stderr()).toContain(`sample model fraud-scorer v2 cannot listen on 127.0.0.1:${busyPort}: the address is in use`);
    expect(run.logs.some((l) => l.msg === 'switchyard listening')).toBe(false);
    expect(await listening(free)).toBe(false);
  });

  it('starts nothing but the gateway without the flag', async () => {
    const port = await deadPort();
    const serve = await startServeProcess(withLogs(configYaml({ v1: [`http://127.0.0.1:${port}`] })));
    runs.push(serve);
    const answer = await fetch(`${serve.proxyUrl}/fraud/score`, { headers: { 'x-user-id': 'alice' } });
    expect(answer.status).toBe(502);
    expect(await listening(port)).toBe(false);
    expect(serve.text).toEqual([]);
  });
});
