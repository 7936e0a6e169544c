import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private CA and the certificates the TLS bench needs, made with Debian's
 * `openssl` into a temporary directory (nothing is downloaded): one for the
 * HTTPS backend, one for the gateway's TLS listener. ECDSA P-256 keys, the
 * common choice for new services, signed with SHA-256.
 */

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface BenchPki {
  readonly dir: string;
  /** The CA certificate that verifies both leaf certificates. */
  readonly ca: string;
  /** For the backend: SAN DNS `backendName` and IP 127.0.0.1. */
  readonly backend: CertFiles;
  readonly backendName: string;
  /** For the gateway's proxy port: SAN DNS localhost and IP 127.0.0.1. */
  readonly listener: CertFiles;
  readonly keyType: string;
  remove(): void;
}

export const BACKEND_NAME = 'backend.bench.test';

export function opensslVersion(): string | null {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return null;
  return probe.stdout.trim();
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function issue(dir: string, name: string, cn: string, sans: readonly string[], serial: number): CertFiles {
  const base = join(dir, name);
  openssl(['req', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], dir);
  writeFileSync(
    `${base}.ext`,
    `subjectAltName=${sans.join(',')}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial), '-days', '2', '-sha256', '-out', `${base}.pem`, '-extfile', `${base}.ext`], dir);
  return { cert: `${base}.pem`, key: `${base}.key` };
}

/** Makes the CA and both certificates; `remove()` deletes the directory (also done at exit). */
export function makeBenchPki(): BenchPki {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-pki-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  try {
    openssl(
      ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-sha256', '-subj', '/CN=Switchyard bench CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    );
    const backend = issue(dir, 'backend', BACKEND_NAME, [`DNS:${BACKEND_NAME}`, 'IP:127.0.0.1'], 1001);
    const listener = issue(dir, 'listener', 'localhost', ['DNS:localhost', 'IP:127.0.0.1'], 1002);
    return { dir, ca: join(dir, 'ca.pem'), backend, backendName: BACKEND_NAME, listener, keyType: 'ECDSA P-256', remove };
  } catch (err) {
    remove();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not make the bench's test CA${stderr ? `: ${stderr}` : ''}`);
  }
}
