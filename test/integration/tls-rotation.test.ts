import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { configYaml } from '../helpers/gateway.js';
import { answered, get, type Answer, type NoAnswer } from '../helpers/https-client.js';
import { spawnServe, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { makeTestCa, type Issued, type TestCa } from '../helpers/test-pki.js';

/**
 * Rotating the proxy port's certificate without a restart, in the real
 * `switchyard serve` process (one, or a primary and its workers): the files are
 * rewritten in place, as cert-manager or Vault do, and the gateway follows them
 * on disk or on SIGHUP. Clients are node's https with the test CA, each request
 * on a new connection, so each one is a new handshake that shows which
 * certificate is served. Outcomes and counts are asserted, never durations.
 */

let ca: TestCa;
let backend: TestBackend;
let gw: ServeProcess | undefined;

beforeAll(async () => {
  ca = makeTestCa('Rotation CA');
  backend = await startBackend('v1');
});
afterAll(() => backend.close());
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** A bound for waits on the gateway; a rotation is seen within about two seconds of polling. */
const WAIT_MS = 30_000;

const serialOf = (pair: Issued): string => new X509Certificate(pair.certPem).serialNumber;
const notAfterS = (pair: Issued): number => Math.floor(Date.parse(new X509Certificate(pair.certPem).validTo) / 1000);
const message = (entry: Record<string, unknown>): string => String(entry.msg);
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function tlsYaml(live: { readonly cert: string; readonly key: string }): string {
  return configYaml({ v1: [backend.url] })
    .replace('proxy: { listen: "127.0.0.1:0" }', `proxy: { listen: "127.0.0.1:0", tls: { cert: "${live.cert}", key: "${live.key}" } }`)
    .replace('log: { level: silent }', 'log: { level: info }');
}

/** Rewrites the live files in place with `next`'s certificate and `keyOf`'s key, as a renewal does. */
function rewrite(live: Issued, next: Issued, keyOf: Issued = next): void {
  writeFileSync(live.cert, next.certPem);
  writeFileSync(live.key, keyOf.keyPem);
}

/** The serial numbers `count` new connections were shown, in order. */
async function servedSerials(url: string, count: number): Promise<Array<string | null>> {
  const serials: Array<string | null> = [];
  for (let i = 0; i < count; i++) serials.push(answered(await get(`${url}/fraud/score`, { ca: ca.caPem })).serial);
  return serials;
}

/** The value of switchyard_tls_cert_expiry_seconds for `field` on the admin port's /metrics, with its labels. */
async function expiryMetric(adminUrl: string, field: string): Promise<{ labels: string; value: number }[]> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('switchyard_tls_cert_expiry_seconds{') && line.includes(`field="${field}"`))
    .map((line) => {
      const cut = line.lastIndexOf(' ');
      return { labels: line.slice('switchyard_tls_cert_expiry_seconds'.length, cut), value: Number(line.slice(cut + 1)) };
    });
}

interface Sent {
  readonly outcome: Answer | NoAnswer;
  /** Sent after the gateway said the new certificate is in use. */
  readonly afterSwap: boolean;
}

/** Clients sending requests one after another, each on a new connection, until stopped. */
function keepSending(url: string, clients: number): { sent: Sent[]; swapped(): void; stop(): Promise<Sent[]> } {
  const sent: Sent[] = [];
  let running = true;
  let swapped = false;
  const client = async () => {
    while (running) {
      const afterSwap = swapped;
      sent.push({ outcome: await get(`${url}/fraud/score`, { ca: ca.caPem }), afterSwap });
    }
  };
  const clientsDone = Array.from({ length: clients }, client);
  return {
    sent,
    swapped: () => (swapped = true),
    stop: async () => {
      running = false;
      await Promise.all(clientsDone);
      return sent;
    },
  };
}

/** How the requests went: failures, and which serials were seen before and after the swap. */
function tally(sent: readonly Sent[]): { failed: string[]; before: string[]; after: string[] } {
  const serials = (afterSwap: boolean) => [...new Set(sent.filter((s) => s.afterSwap === afterSwap && !('error' in s.outcome)).map((s) => (s.outcome as Answer).serial ?? 'none'))].sort();
  return {
    failed: sent.flatMap((s) => ('error' in s.outcome ? [s.outcome.error] : s.outcome.status === 200 ? [] : [`status ${s.outcome.status}`])),
    before: serials(false),
    after: serials(true),
  };
}

describe('serve with proxy.tls: a certificate rewritten on disk', () => {
  it('is served to the next handshakes without one failed request, and the expiry metric follows it', async () => {
    const live = ca.issue('gateway');
    const first = serialOf(live);
    gw = await startServeProcess(tlsYaml(live));
    expect(gw.proxyUrl).toMatch(/^https:\/\//);
    expect(await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).toEqual([{ labels: `{field="proxy.tls.cert",file="${live.cert}",subject="CN=gateway"}`, value: notAfterS(live) }]);

    const load = keepSending(gw.proxyUrl, 2);
    await expect.poll(() => load.sent.length, { timeout: WAIT_MS }).toBeGreaterThanOrEqual(10);
    const next = ca.issue('gateway', { days: 60 });
    rewrite(live, next);
    await gw.waitForLog((l) => message(l) === `proxy.tls: new handshakes use the certificate with serial ${serialOf(next)}`, WAIT_MS);
    load.swapped();
    const swappedAt = load.sent.length;
    await expect.poll(() => load.sent.length, { timeout: WAIT_MS }).toBeGreaterThanOrEqual(swappedAt + 10);
    const result = tally(await load.stop());

    expect(result.failed).toEqual([]);
    expect(result.after).toEqual([serialOf(next)]);
    expect(result.before).toContain(first);
    expect(gw.logs.filter((l) => message(l) === 'TLS reload (file change): proxy.tls now serves the new material')).toHaveLength(1);
    expect(await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).toEqual([{ labels: `{field="proxy.tls.cert",file="${live.cert}",subject="CN=gateway"}`, value: notAfterS(next) }]);
    expect(notAfterS(next)).not.toBe(notAfterS(live));
  }, 90_000);

  it('keeps serving the old certificate when the new key does not match, says so once, then takes a good pair', async () => {
    const live = ca.issue('gateway');
    gw = await startServeProcess(tlsYaml(live));
    const other = ca.issue('gateway');
    rewrite(live, ca.issue('gateway', { days: 45 }), other);
    const refused = await gw.waitForLog((l) => l.level === 50, WAIT_MS);
    expect(message(refused)).toBe(
      `TLS reload (file change) refused for proxy.tls, still serving the material loaded before: proxy.tls.key (${live.key}): the key does not match the certificate in proxy.tls.cert (${live.cert})`,
    );
    expect(await servedSerials(gw.proxyUrl, 5)).toEqual(Array(5).fill(serialOf(live)));
    expect((await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).map((m) => m.value)).toEqual([notAfterS(live)]);

    const good = ca.issue('gateway', { days: 60 });
    rewrite(live, good);
    await gw.waitForLog((l) => message(l) === `proxy.tls: new handshakes use the certificate with serial ${serialOf(good)}`, WAIT_MS);
    expect(await servedSerials(gw.proxyUrl, 5)).toEqual(Array(5).fill(serialOf(good)));
    expect((await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).map((m) => m.value)).toEqual([notAfterS(good)]);
    expect(gw.logs.filter((l) => Number(l.level) >= 50).map(message)).toEqual([message(refused)]);
  }, 90_000);
});

describe('serve with proxy.tls: SIGHUP', () => {
  it('re-reads the files at once: new connections see the new certificate; repeated SIGHUPs are harmless and SIGTERM still exits 0', async () => {
    const live = ca.issue('gateway');
    gw = await startServeProcess(tlsYaml(live));
    const load = keepSending(gw.proxyUrl, 1);
    await expect.poll(() => load.sent.length, { timeout: WAIT_MS }).toBeGreaterThanOrEqual(5);
    const next = ca.issue('gateway', { days: 60 });
    rewrite(live, next);
    // Sent as soon as the files are written: the file watcher waits for a poll interval and a quiet time, the signal does not.
    gw.child.kill('SIGHUP');
    await gw.waitForLog((l) => message(l) === 'SIGHUP: TLS files re-read, 1 set-up(s) changed', WAIT_MS);
    load.swapped();
    const swappedAt = load.sent.length;
    await expect.poll(() => load.sent.length, { timeout: WAIT_MS }).toBeGreaterThanOrEqual(swappedAt + 5);
    const result = tally(await load.stop());
    expect(result.failed).toEqual([]);
    expect(result.after).toEqual([serialOf(next)]);
    expect(gw.logs.filter((l) => message(l) === 'TLS reload (SIGHUP): proxy.tls now serves the new material')).toHaveLength(1);
    expect((await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).map((m) => m.value)).toEqual([notAfterS(next)]);

    const unchanged = () => gw!.logs.filter((l) => message(l) === 'SIGHUP: TLS files re-read, nothing changed').length;
    for (let i = 1; i <= 5; i++) {
      gw.child.kill('SIGHUP');
      await expect.poll(unchanged, { timeout: WAIT_MS }).toBe(i);
    }
    expect(await servedSerials(gw.proxyUrl, 3)).toEqual(Array(3).fill(serialOf(next)));
    gw.child.kill('SIGTERM');
    expect(await gw.exitWithin(WAIT_MS)).toBe(0);
    expect(gw.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  }, 90_000);
});

describe('serve --workers 2 with proxy.tls', () => {
  it('a rotation reaches every worker: all new connections see the new certificate', async () => {
    const live = ca.issue('gateway');
    gw = await startServeProcess(tlsYaml(live), ['--workers', '2']);
    expect(await servedSerials(gw.proxyUrl, 6)).toEqual(Array(6).fill(serialOf(live)));

    const next = ca.issue('gateway', { days: 60 });
    rewrite(live, next);
    const inUse = `proxy.tls: new handshakes use the certificate with serial ${serialOf(next)}`;
    await expect.poll(() => new Set(gw!.logs.filter((l) => message(l) === inUse).map((l) => l.worker)).size, { timeout: WAIT_MS }).toBe(2);
    // node:cluster deals connections to the workers in turn: a worker still on the old certificate would show it here.
    expect(await servedSerials(gw.proxyUrl, 10)).toEqual(Array(10).fill(serialOf(next)));
    expect((await expiryMetric(gw.adminUrl, 'proxy.tls.cert')).map((m) => m.value)).toEqual([notAfterS(next)]);
    gw.child.kill('SIGHUP');
    await gw.waitForLog((l) => message(l) === 'SIGHUP: TLS files re-read, nothing changed', WAIT_MS);
    gw.child.kill('SIGTERM');
    expect(await gw.exitWithin(WAIT_MS)).toBe(0);
  }, 90_000);
});

describe('serve with proxy.tls files that cannot serve', () => {
  const refusal = async (live: { cert: string; key: string }) => {
    const run = spawnServe(tlsYaml(live));
    try {
      return { exit: await run.exitWithin(WAIT_MS), stderr: run.stderr().trimEnd().split('\n'), listening: run.logs.filter((l) => l.msg === 'switchyard listening').length };
    } finally {
      await run.stop();
    }
  };

  it('a key that does not match its certificate: refused before anything starts, with one line naming proxy.tls.key, the file and the cause', async () => {
    const cert = ca.issue('gateway');
    const other = ca.issue('gateway');
    const run = await refusal({ cert: cert.cert, key: other.key });
    expect(run).toEqual({
      exit: 2,
      stderr: [expect.stringMatching(new RegExp(`^switchyard: \\S+config\\.yaml is invalid: ${literal(`proxy.tls.key (${other.key}): the key does not match the certificate in proxy.tls.cert (${cert.cert})`)}$`))],
      listening: 0,
    });
  }, 40_000);

  it('an expired certificate: likewise, naming proxy.tls.cert and the day it expired', async () => {
    const expired = ca.issue('gateway', { days: -1 });
    const day = new Date(Date.parse(new X509Certificate(expired.certPem).validTo)).toISOString().replace('.000Z', 'Z');
    const run = await refusal(expired);
    expect(run).toEqual({
      exit: 2,
      stderr: [expect.stringMatching(new RegExp(`^switchyard: \\S+config\\.yaml is invalid: ${literal(`proxy.tls.cert (${expired.cert}): the certificate expired on ${day}`)}$`))],
      listening: 0,
    });
  }, 40_000);
});
