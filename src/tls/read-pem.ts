import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { ListenerTlsConfig } from '../config/schema.js';
import type { ClientMaterial, LoadedCert, ServerMaterial } from './material.js';
import type { TargetTlsSettings } from './target-settings.js';

/** What reading one TLS set-up gave: its material and certificates, or one line per problem. */
export type ReadResult<M> = { readonly ok: true; readonly material: M; readonly certs: readonly LoadedCert[] } | { readonly ok: false; readonly problems: readonly string[] };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

const FILE_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'file not found',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

/** Why a file could not be read, in the words an operator meets: the config's TLS files and the CLI's --ca, --cert, --key. */
export function fileCause(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return FILE_CAUSES[e.code ?? ''] ?? e.message;
}

/** Collects problems as the lines an operator reads: `<field> (<file>): <cause>`. */
class Problems {
  readonly lines: string[] = [];
  add(field: string, file: string, cause: string): null {
    this.lines.push(`${field} (${file}): ${cause}`);
    return null;
  }
}

function readText(field: string, file: string, problems: Problems): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return problems.add(field, file, fileCause(err));
  }
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function describe(field: string, file: string, cert: X509Certificate): LoadedCert {
  return { field, file, subject: cert.subject.replaceAll('\n', ', '), notAfterMs: Date.parse(cert.validTo) };
}

/** Every certificate of a PEM file (a chain or a CA bundle), in order; none is a problem. */
function readCerts(field: string, file: string, problems: Problems): { text: string; certs: X509Certificate[] } | null {
  const text = readText(field, file, problems);
  if (text === null) return null;
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return problems.add(field, file, 'no PEM certificate in it (a "-----BEGIN CERTIFICATE-----" block)');
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certs.push(new X509Certificate(block));
    } catch (err) {
      return problems.add(field, file, `not a valid certificate: ${(err as Error).message}`);
    }
  }
  return { text, certs };
}

/** A certificate the gateway presents must be valid now: an expired one fails every handshake. */
function checkValidity(field: string, file: string, cert: X509Certificate, nowMs: number, problems: Problems): void {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (nowMs > notAfter) problems.add(field, file, `the certificate expired on ${isoDate(notAfter)}`);
  else if (nowMs < notBefore) problems.add(field, file, `the certificate is not valid before ${isoDate(notBefore)}`);
}

function readKey(field: string, file: string, problems: Problems): { text: string; key: KeyObject } | null {
  const text = readText(field, file, problems);
  if (text === null) return null;
  try {
    return { text, key: createPrivateKey(text) };
  } catch (err) {
    const message = (err as Error).message;
    if (/passphrase|encrypted/i.test(message)) return problems.add(field, file, 'the key is encrypted: give an unencrypted PEM key (the gateway cannot ask for a passphrase)');
    return problems.add(field, file, `not a PEM private key: ${message}`);
  }
}

/**
 * A certificate and its key: both readable, the certificate valid now, and the
 * key the one the certificate was issued for.
 */
function readPair(
  cert: { field: string; file: string },
  key: { field: string; file: string },
  nowMs: number,
  problems: Problems,
): { cert: string; key: string; loaded: LoadedCert[] } | null {
  const before = problems.lines.length;
  const chain = readCerts(cert.field, cert.file, problems);
  const privateKey = readKey(key.field, key.file, problems);
  if (chain === null || privateKey === null) return null;
  const leaf = chain.certs[0] as X509Certificate;
  checkValidity(cert.field, cert.file, leaf, nowMs, problems);
  if (!leaf.checkPrivateKey(privateKey.key)) problems.add(key.field, key.file, `the key does not match the certificate in ${cert.field} (${cert.file})`);
  if (problems.lines.length > before) return null;
  // The text that was checked, never a second read: a rewrite in between could pair another certificate with the key.
  return { cert: chain.text, key: privateKey.text, loaded: chain.certs.map((c) => describe(cert.field, cert.file, c)) };
}

/** What OpenSSL still refuses once each file looked right (an unsupported key type, say), named by the set-up's field. */
function checkContext(field: string, options: Parameters<typeof createSecureContext>[0], problems: Problems): void {
  try {
    createSecureContext(options);
  } catch (err) {
    problems.lines.push(`${field}: OpenSSL refused the TLS set-up: ${(err as Error).message}`);
  }
}

/** `proxy.tls` or `admin.tls`, read from its files. */
export function readServerMaterial(field: string, config: ListenerTlsConfig, nowMs: number): ReadResult<ServerMaterial> {
  const problems = new Problems();
  const pair = readPair({ field: `${field}.cert`, file: config.cert }, { field: `${field}.key`, file: config.key }, nowMs, problems);
  let ca: string | null = null;
  const loaded = [...(pair?.loaded ?? [])];
  if (config.ca !== undefined) {
    const read = readCerts(`${field}.ca`, config.ca, problems);
    if (read !== null) {
      ca = read.certs.map((c) => c.toString()).join('\n');
      loaded.push(...read.certs.map((c) => describe(`${field}.ca`, config.ca as string, c)));
    }
  }
  if (pair !== null && problems.lines.length === 0) checkContext(field, { cert: pair.cert, key: pair.key, ...(ca === null ? {} : { ca }), minVersion: config.minVersion }, problems);
  if (pair === null || problems.lines.length > 0) return { ok: false, problems: problems.lines };
  const material: ServerMaterial = { cert: pair.cert, key: pair.key, ca, clientAuth: config.clientAuth ?? null, minVersion: config.minVersion };
  return { ok: true, material, certs: loaded };
}

/** One version's TLS to its https:// targets, from its settings merged with its service's. */
export function readClientMaterial(settings: TargetTlsSettings, nowMs: number): ReadResult<ClientMaterial> {
  const problems = new Problems();
  const loaded: LoadedCert[] = [];
  const ca: string[] = [];
  if (settings.ca !== null) {
    const { field, file } = settings.ca;
    const read = readCerts(field, file, problems);
    if (read !== null) {
      ca.push(...read.certs.map((c) => c.toString()));
      loaded.push(...read.certs.map((c) => describe(field, file, c)));
    }
  }
  let pair: { cert: string; key: string } | null = null;
  if (settings.cert !== null && settings.key !== null) {
    const read = readPair(settings.cert, settings.key, nowMs, problems);
    if (read !== null) {
      pair = read;
      loaded.push(...read.loaded);
    }
  }
  if (problems.lines.length === 0) checkContext(settings.field, { ...(pair ?? {}), ...(ca.length === 0 ? {} : { ca }), minVersion: settings.minVersion }, problems);
  if (problems.lines.length > 0) return { ok: false, problems: problems.lines };
  const material: ClientMaterial = {
    ca,
    cert: pair?.cert ?? null,
    key: pair?.key ?? null,
    serverName: settings.serverName,
    minVersion: settings.minVersion,
    verify: !settings.insecureSkipVerify,
  };
  return { ok: true, material, certs: loaded };
}
