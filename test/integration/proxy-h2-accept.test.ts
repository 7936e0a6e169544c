import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml, startTestGateway } from '../helpers/gateway.js';

/** Sends `parts` one by one, each in its own write after the last one went out, and returns all the socket read until it closed. */
async function sendInParts(port: number, parts: readonly string[]): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  for (const part of parts) {
    await new Promise<void>((resolve) => socket.write(part, () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await closed;
  return answer;
}

/** What `http2` answers a GET over h2c with prior knowledge: the status, or the error. */
async function h2Status(url: string, path: string): Promise<number | string> {
  const session = h2connect(url);
  try {
    return await new Promise<number | string>((resolve) => {
      session.on('error', (err) => resolve(err.message));
      const stream = session.request({ ':path': path });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', (err) => resolve(err.message));
      stream.resume();
    });
  } finally {
    session.close();
  }
}

/**
 * The proxy port tells HTTP/2 with prior knowledge from HTTP/1.1 by the first
 * bytes, however they are cut into packets, and a client that leaves before
 * it can tell must not take the gateway down.
 */
describe('one port for HTTP/1.1 and h2c', () => {
  let backend: TestBackend;
  let gateway: Gateway;
  let port: number;

  beforeAll(async () => {
    backend = await startBackend('v1');
    gateway = await startTestGateway(configYaml({ v1: [backend.url] }));
    port = Number(new URL(gateway.proxyUrl).port);
  });

  afterAll(async () => {
    await gateway.close();
    await backend.close();
  });

  it('serves an HTTP/1.1 request that arrives a byte at a time, its "P" first as in the HTTP/2 preface', async () => {
    const request = 'POST /fraud/score HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';
    const answer = await sendInParts(port, [request.slice(0, 1), request.slice(1, 3), request.slice(3)]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.toLowerCase()).toContain('x-model-version: v1');
  });

  it('answers HTTP/2 with prior knowledge (a non-gRPC request to an HTTP service is told to use HTTP/1.1)', async () => {
    expect(await h2Status(gateway.proxyUrl, '/fraud/score')).toBe(505);
  });

  it('keeps serving after clients reset their connection before or in the middle of the preface', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          if (i % 2 === 1) socket.write('PRI * HT');
          socket.resetAndDestroy();
          resolve();
        });
      });
    }
    const answer = await fetch(`${gateway.proxyUrl}/fraud/score`, { method: 'POST', body: '{}' });
    expect(answer.status).toBe(200);
    expect(await h2Status(gateway.proxyUrl, '/fraud/score')).toBe(505);
  });
});

describe('an idle HTTP/2 connection', () => {
  it('is closed after proxy.keepAliveTimeout, as an idle HTTP/1.1 one is', async () => {
    const backend = await startBackend('v1');
    const yaml = configYaml({ v1: [backend.url] }).replace('proxy: { listen: "127.0.0.1:0" }', 'proxy: { listen: "127.0.0.1:0", keepAliveTimeout: 1s }');
    const gateway = await startTestGateway(yaml);
    try {
      const session = h2connect(gateway.proxyUrl);
      const closed = new Promise<string>((resolve) => {
        session.once('goaway', () => resolve('goaway'));
        session.once('close', () => resolve('close'));
      });
      const stream = session.request({ ':path': '/fraud/score' });
      stream.resume();
      await new Promise((resolve) => stream.once('close', resolve));
      // Nothing more is sent: the gateway ends the session by itself (the test's own timeout bounds the wait).
      expect(await closed).toBe('goaway');
      session.destroy();
    } finally {
      await gateway.close();
      await backend.close();
    }
  });
});
