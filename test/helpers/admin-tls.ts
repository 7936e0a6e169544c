import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { configYaml } from './gateway.js';
import { makeTestCa, type Issued, type TestCa } from './test-pki.js';

/** What curl did: its exit code, the HTTP status (null when no answer came) and the body. */
export interface CurlResult {
  readonly exit: number;
  readonly status: number | null;
  readonly body: string;
  readonly stderr: string;
}

function run(binary: string, args: readonly string[], input = ''): Promise<{ exit: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(binary, [...args], { timeout: 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = (err as (Error & { code?: unknown }) | null)?.code;
      resolve({ exit: err === null ? 0 : typeof code === 'number' ? code : -1, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

/** curl as an operator runs it; `args` carries --cacert, --cert, --key, -H. */
export async function curl(url: string, args: readonly string[] = []): Promise<CurlResult> {
  const { exit, stdout, stderr } = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args, url]);
  const cut = stdout.lastIndexOf('\n');
  const code = Number(stdout.slice(cut + 1));
  return { exit, status: code === 0 ? null : code, body: stdout.slice(0, cut), stderr };
}

/** The serial number of the certificate a new handshake with `host:port` is shown, read by `openssl s_client`. */
export async function servedSerial(port: number, caFile: string): Promise<string> {
  const { stdout } = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', caFile]);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
  if (pem === undefined) throw new Error(`openssl s_client showed no certificate: ${stdout.slice(0, 500)}`);
  return new X509Certificate(pem).serialNumber;
}

/** The test gateway's config (one service, both tokens) with `admin.tls` set to `tls` (a YAML flow map) and info logs for the waits. */
export function adminTlsYaml(tls: string): string {
  return configYaml({ v1: ['http://127.0.0.1:9'], v2: ['http://127.0.0.1:9'] })
    .replace('admin:\n  listen: "127.0.0.1:0"\n', `admin:\n  listen: "127.0.0.1:0"\n  tls: ${tls}\n`)
    .replace('log: { level: silent }', 'log: { level: info }');
}

export const portOf = (url: string): number => Number(new URL(url).port);

/** An admin port's CA and certificate, an operator's client certificate from it, and an intruder's from another CA. */
export interface AdminPki {
  readonly ca: TestCa;
  readonly intruderCa: TestCa;
  readonly server: Issued;
  readonly client: Issued;
  readonly intruder: Issued;
}

export function makeAdminPki(name: string): AdminPki {
  const ca = makeTestCa(`${name} CA`);
  const intruderCa = makeTestCa(`${name} Intruder CA`);
  return { ca, intruderCa, server: ca.issue('admin'), client: ca.issue('operator', { client: true }), intruder: intruderCa.issue('intruder', { client: true }) };
}
