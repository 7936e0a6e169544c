/**
 * What a listener or a target connection is built from, read from the PEM
 * files once: plain strings, so a cluster's primary can hand them to its
 * workers, which then never read the files themselves.
 */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** A listener's certificate and key, and for mutual TLS the CA of client certificates. */
export interface ServerMaterial {
  readonly cert: string;
  readonly key: string;
  /** PEM of the CA that signs client certificates; null without clientAuth. */
  readonly ca: string | null;
  readonly clientAuth: 'require' | 'optional' | null;
  readonly minVersion: TlsVersion;
}

/** How the gateway connects to one version's https:// targets. */
export interface ClientMaterial {
  /** Extra CA certificates (PEM), trusted besides Node's root store; empty for the roots alone. */
  readonly ca: readonly string[];
  /** The client certificate and key for mutual TLS, or null. */
  readonly cert: string | null;
  readonly key: string | null;
  /** SNI and the name verified; null: the target's host name (no SNI for an IP). */
  readonly serverName: string | null;
  readonly minVersion: TlsVersion;
  /** false only with tls.insecureSkipVerify: true. */
  readonly verify: boolean;
}

/** A certificate the gateway loaded, for the expiry metric. */
export interface LoadedCert {
  /** The config field it came from, like `proxy.tls.cert` or `services.fraud.versions.v2.tls.ca`. */
  readonly field: string;
  readonly file: string;
  readonly subject: string;
  readonly notAfterMs: number;
}

/** Every TLS material of a gateway, keyed as the config names it. */
export interface TlsBundle {
  readonly proxy: ServerMaterial | null;
  readonly admin: ServerMaterial | null;
  /** By `service/version`, for versions with at least one https:// target. */
  readonly targets: Readonly<Record<string, ClientMaterial>>;
}

export const targetKey = (service: string, version: string): string => `${service}/${version}`;

export const NO_TLS: TlsBundle = { proxy: null, admin: null, targets: {} };
