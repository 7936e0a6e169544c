import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { admin, configYaml, startTestGateway } from '../helpers/gateway.js';

/**
 * A target of a version that refuses connections (a model server restarting, a
 * pod gone) while another target of the same version answers: the request was
 * never received, so it goes to the other target, whatever its method and
 * body, and the client sees no difference.
 */

interface Model {
  readonly port: number;
  readonly url: string;
  /** Bodies received, in order. */
  readonly bodies: string[];
  /** Stops listening; requests in flight finish, idle keep-alive connections close. */
  close(): Promise<void>;
}

/** A model that answers each request with its name and the size of the body it read; on `port` when given. */
async function model(name: string, port = 0): Promise<Model> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ model: name, bytes: Buffer.byteLength(body) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** A loopback port nothing listens on: connections to it are refused. */
async function refusingPort(): Promise<number> {
  const gone = await model('gone');
  await gone.close();
  return gone.port;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function gatewayFor(targets: readonly string[], serviceExtra = ''): Promise<Gateway> {
  const gateway = await startTestGateway(configYaml({ v1: targets }, '', serviceExtra));
  cleanup.push(() => gateway.close());
  return gateway;
}

interface Answer {
  readonly status: number;
  readonly model?: string;
  readonly bytes?: number;
  readonly code?: string;
}

async function post(gateway: Gateway, body: string, user: string): Promise<Answer> {
  const res = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body, headers: { 'x-user-id': user, 'content-type': 'application/json' } });
  const answer = (await res.json()) as { model?: string; bytes?: number; code?: string };
  return { status: res.status, ...answer };
}

async function metric(gateway: Gateway, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('a target that refuses connections beside one that answers', () => {
  it('sends every request, GET or POST, to the other target; the refusals are counted as retries and the target is ejected', async () => {
    const live = await model('live');
    cleanup.push(() => live.close());
    const gateway = await gatewayFor([`http://127.0.0.1:${await refusingPort()}`, live.url]);

    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await post(gateway, JSON.stringify({ features: [i, i + 1] }), `user-${i}`));
    const get = await fetch(`${gateway.proxyUrl}/fraud/score`, { headers: { 'x-user-id': 'user-get' } });
    expect({ status: get.status, model: ((await get.json()) as { model: string }).model }).toEqual({ status: 200, model: 'live' });

    expect(answers.map((a) => `${a.status} ${a.model}`)).toEqual(Array.from({ length: 12 }, () => '200 live'));
    // Each body arrived whole, once.
    expect(live.bodies.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => JSON.stringify({ features: [i, i + 1] })));
    // Round-robin sent every other request to the refusing target until five refusals in a row ejected it.
    expect(await metric(gateway, /^switchyard_upstream_retries_total\{.*reason="refused".*\}/)).toBe(5);
    expect(await metric(gateway, /^switchyard_target_ejections_total\{/)).toBe(1);
    expect(await metric(gateway, /^switchyard_upstream_errors_total\{.*kind="connect".*\}/)).toBe(0);
  });

  it('sends a body larger than the replay cap whole: it waits with the client until a connection is up', async () => {
    const live = await model('live');
    cleanup.push(() => live.close());
    const gateway = await gatewayFor([`http://127.0.0.1:${await refusingPort()}`, live.url], '    fallback: { replayBodyBytes: 1KiB }');
    const big = JSON.stringify({ features: 'x'.repeat(256 * 1024) });
    const answers = [await post(gateway, big, 'user-1'), await post(gateway, big, 'user-2')];
    expect(answers).toEqual([
      { status: 200, model: 'live', bytes: big.length },
      { status: 200, model: 'live', bytes: big.length },
    ]);
  });

  it("sends a candidate's request, whose body is kept for a fallback, to the candidate's other target rather than to stable", async () => {
    const [stable, candidate] = [await model('stable'), await model('candidate')];
    cleanup.push(() => stable.close(), () => candidate.close());
    const gateway = await startTestGateway(configYaml({ v1: [stable.url], v2: [`http://127.0.0.1:${await refusingPort()}`, candidate.url] }));
    cleanup.push(() => gateway.close());
    expect((await admin(gateway, 'POST', '/api/v1/services/fraud-scorer/rollout', { candidate: 'v2', weight: 100 })).status).toBe(200);

    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(gateway, JSON.stringify({ i }), `user-${i}`));
    expect(answers.map((a) => `${a.status} ${a.model}`)).toEqual(['200 candidate', '200 candidate', '200 candidate', '200 candidate']);
    expect(candidate.bodies).toEqual([0, 1, 2, 3].map((i) => JSON.stringify({ i })));
    expect(stable.bodies).toEqual([]);
    expect(await metric(gateway, /^switchyard_fallbacks_total\{/)).toBe(0);
  });

  it('sends a request whose body a shadow copies as it comes to the other target too, whole', async () => {
    const [live, shadow] = [await model('live'), await model('shadow')];
    cleanup.push(() => live.close(), () => shadow.close());
    const gateway = await startTestGateway(configYaml({ v1: [`http://127.0.0.1:${await refusingPort()}`, live.url], v2: [shadow.url] }));
    cleanup.push(() => gateway.close());
    gateway.commands.run('fraud-scorer', { type: 'shadow', version: 'v2', sampleBp: 10_000 }, { actor: 'test', reason: 'dark launch' });

    const bodies = [0, 1, 2, 3].map((i) => JSON.stringify({ features: 'x'.repeat(1000 * (i + 1)) }));
    const answers = [];
    for (const [i, body] of bodies.entries()) answers.push(await post(gateway, body, `user-${i}`));
    expect(answers.map((a) => `${a.status} ${a.model} ${a.bytes}`)).toEqual(bodies.map((b) => `200 live ${b.length}`));
    expect(live.bodies).toEqual(bodies);
  });

  it('answers 502 naming the version when every target refuses, after trying a second one', async () => {
    const gateway = await gatewayFor([`http://127.0.0.1:${await refusingPort()}`, `http://127.0.0.1:${await refusingPort()}`]);
    const answer = await post(gateway, '{}', 'user-1');
    expect({ status: answer.status, code: answer.code }).toEqual({ status: 502, code: 'SY_ERR_UPSTREAM_CONNECT' });
    expect(await metric(gateway, /^switchyard_upstream_retries_total\{.*reason="refused".*\}/)).toBe(1);
  });

  it('loses no request while one of two targets restarts again and again under load', async () => {
    const steady = await model('steady');
    let restarting = await model('restarting');
    const port = restarting.port;
    cleanup.push(() => steady.close());
    cleanup.push(() => restarting.close());
    const gateway = await gatewayFor([steady.url, restarting.url]);

    const failures: string[] = [];
    let answered = 0;
    let running = true;
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const body = JSON.stringify({ user: n, i });
        const answer = await post(gateway, body, `user-${n}-${i}`).catch((err: Error): Answer => ({ status: 0, code: err.message }));
        if (answer.status === 200 && answer.bytes === body.length) answered++;
        else failures.push(`${answer.status} ${answer.code ?? ''}`);
      }
    };
    const until = async (count: number) => {
      const deadline = Date.now() + 30_000;
      while (answered < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(answered).toBeGreaterThanOrEqual(count);
    };
    const clients = Array.from({ length: 6 }, (_, n) => client(n));
    try {
      for (let restart = 1; restart <= 3; restart++) {
        await until(restart * 150);
        await restarting.close();
        // The port refuses connections for a moment, as a restarting model server's does.
        await new Promise((resolve) => setTimeout(resolve, 100));
        restarting = await model('restarting', port);
      }
      await until(600);
    } finally {
      running = false;
      await Promise.allSettled(clients);
    }
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThanOrEqual(600);
  }, 60_000);
});
