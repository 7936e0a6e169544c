import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key on disk, with the PEM texts. */
export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueOptions {
  /** subjectAltName DNS names; default ["localhost"]. */
  readonly dns?: readonly string[];
  /** subjectAltName IP addresses; default ["127.0.0.1"]. */
  readonly ips?: readonly string[];
  /** Days of validity; -1 gives a certificate that expired a day ago. */
  readonly days?: number;
  /** Issued for TLS clients (mutual TLS) instead of servers. */
  readonly client?: boolean;
}

/** A private certificate authority made with Debian's openssl for one test file; nothing is downloaded. */
export interface TestCa {
  readonly dir: string;
  /** The CA certificate (PEM file) that verifies what it issues. */
  readonly caFile: string;
  readonly caPem: string;
  issue(name: string, options?: IssueOptions): Issued;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const read = (file: string): string => readFileSync(file, 'utf8');

/** A new CA named `name` in a fresh directory (or `dir`), with P-256 keys: fast to make. */
export function makeTestCa(name = 'Switchyard Test CA', dir = mkdtempSync(join(tmpdir(), 'sy-pki-'))): TestCa {
  const slug = name.replace(/\W+/g, '-').toLowerCase();
  const caKey = join(dir, `${slug}.key`);
  const caFile = join(dir, `${slug}.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '30', '-subj', `/CN=${name}`], dir);
  let serial = 0;
  return {
    dir,
    caFile,
    caPem: read(caFile),
    issue(certName, options = {}) {
      serial++;
      const base = join(dir, `${slug}-${certName}-${serial}`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${certName}`], dir);
      const sans = [...(options.dns ?? ['localhost']).map((d) => `DNS:${d}`), ...(options.ips ?? ['127.0.0.1']).map((ip) => `IP:${ip}`)];
      const usage = options.client === true ? 'clientAuth' : 'serverAuth';
      writeFileSync(`${base}.ext`, `${sans.length > 0 ? `subjectAltName=${sans.join(',')}\n` : ''}extendedKeyUsage=${usage}\n`);
      openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(1000 + serial), '-out', `${base}.pem`, '-days', String(options.days ?? 30), '-extfile', `${base}.ext`], dir);
      return { cert: `${base}.pem`, key: `${base}.key`, certPem: read(`${base}.pem`), keyPem: read(`${base}.key`) };
    },
  };
}
