import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { fileCause } from '../tls/read-pem.js';
import { usageError } from './exit-codes.js';

/** A PEM file the CLI was given, with where it came from (`--ca` or `SWITCHYARD_ADMIN_CA`) for its messages. */
export interface GivenFile {
  readonly source: string;
  readonly file: string;
  readonly pem: string;
}

/**
 * TLS to an https:// admin URL: the CA that signed the admin port's
 * certificate (besides Node's roots), and the client certificate and key for
 * an admin port with mutual TLS.
 */
export interface AdminTls {
  readonly ca: GivenFile | null;
  readonly cert: GivenFile | null;
  readonly key: GivenFile | null;
}

interface TlsFlags {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

type Name = keyof TlsFlags;

/** Each setting's flag and environment variable; the flag wins, as with --admin-url and --token. */
const SETTINGS: Readonly<Record<Name, { flag: string; env: string }>> = {
  ca: { flag: '--ca', env: 'SWITCHYARD_ADMIN_CA' },
  cert: { flag: '--cert', env: 'SWITCHYARD_ADMIN_CERT' },
  key: { flag: '--key', env: 'SWITCHYARD_ADMIN_KEY' },
};

const PEM_CERT = '-----BEGIN CERTIFICATE-----';
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function where(name: Name, flags: TlsFlags, env: Readonly<Record<string, string | undefined>>): { source: string; file: string } | null {
  const { flag, env: variable } = SETTINGS[name];
  const fromFlag = flags[name];
  if (fromFlag !== undefined) return { source: flag, file: fromFlag };
  const fromEnv = env[variable];
  return fromEnv === undefined || fromEnv === '' ? null : { source: variable, file: fromEnv };
}

function read(at: { source: string; file: string }): GivenFile {
  try {
    return { ...at, pem: readFileSync(at.file, 'utf8') };
  } catch (err) {
    throw usageError(`${at.source}: cannot read ${at.file}: ${fileCause(err)}`);
  }
}

/** What OpenSSL refuses (a key that is not the certificate's, an encrypted key), in one line naming the files. */
function checkWithOpenSsl(files: readonly GivenFile[], options: Parameters<typeof createSecureContext>[0]): void {
  try {
    createSecureContext(options);
  } catch (err) {
    const named = files.map((f) => `${f.source} (${f.file})`).join(' and ');
    throw usageError(`${named}: OpenSSL refused ${files.length > 1 ? 'them' : 'it'}: ${(err as Error).message}`);
  }
}

/**
 * The TLS settings from the flags and the environment, their files read and
 * checked; null when none is given (the CLI then keeps the global fetch). Every
 * problem is a usage error naming the option and the file.
 */
export function adminTls(flags: TlsFlags, env: Readonly<Record<string, string | undefined>>, adminUrl: string): AdminTls | null {
  const ca = where('ca', flags, env);
  const cert = where('cert', flags, env);
  const key = where('key', flags, env);
  if (ca === null && cert === null && key === null) return null;
  if (cert !== null && key === null) throw usageError(`${cert.source} needs --key (or SWITCHYARD_ADMIN_KEY): the private key of the client certificate`);
  if (key !== null && cert === null) throw usageError(`${key.source} needs --cert (or SWITCHYARD_ADMIN_CERT): the client certificate of that key`);
  // Refused rather than ignored: a client certificate meant for mutual TLS must not silently go unused over plain HTTP.
  if (!adminUrl.startsWith('https://')) {
    const sources = [ca, cert, key].flatMap((at) => (at === null ? [] : [at.source]));
    throw usageError(`${sources.join(', ')}: TLS settings need an https:// admin URL (got ${adminUrl})`);
  }
  const tls: AdminTls = { ca: ca === null ? null : read(ca), cert: cert === null ? null : read(cert), key: key === null ? null : read(key) };
  for (const file of [tls.ca, tls.cert]) {
    if (file !== null && !file.pem.includes(PEM_CERT)) throw usageError(`${file.source}: ${file.file} holds no PEM certificate (a "${PEM_CERT}" block)`);
  }
  if (tls.key !== null && !PEM_KEY.test(tls.key.pem)) throw usageError(`${tls.key.source}: ${tls.key.file} holds no PEM private key`);
  if (tls.ca !== null) checkWithOpenSsl([tls.ca], { ca: tls.ca.pem });
  if (tls.cert !== null && tls.key !== null) checkWithOpenSsl([tls.cert, tls.key], { cert: tls.cert.pem, key: tls.key.pem });
  return tls;
}
