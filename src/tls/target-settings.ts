import type { Config, TargetTlsConfig, ServiceConfig } from '../config/schema.js';
import type { TlsVersion } from './material.js';

/** A file a setting came from, with the config field that named it. */
export interface FileSetting {
  readonly field: string;
  readonly file: string;
}

/** One version's TLS to its https:// targets: its own fields, else its service's. */
export interface TargetTlsSettings {
  /** The field the set-up as a whole is reported under: the version's block when it has one, else the service's. */
  readonly field: string;
  readonly ca: FileSetting | null;
  readonly cert: FileSetting | null;
  readonly key: FileSetting | null;
  readonly serverName: string | null;
  readonly minVersion: TlsVersion;
  readonly insecureSkipVerify: boolean;
}

const hasHttpsTarget = (targets: readonly string[]): boolean => targets.some((t) => t.startsWith('https:'));

/**
 * The settings of a version with an https:// target. A version's field wins
 * over its service's; cert and key are taken together from where they are set.
 */
export function targetTlsSettings(service: string, config: ServiceConfig, version: string): TargetTlsSettings | null {
  const own = config.versions[version];
  if (own === undefined || !hasHttpsTarget(own.targets)) return null;
  const serviceField = `services.${service}.tls`;
  const versionField = `services.${service}.versions.${version}.tls`;
  const blocks: Array<[string, TargetTlsConfig | undefined]> = [
    [versionField, own.tls],
    [serviceField, config.tls],
  ];
  const caFrom = blocks.find(([, block]) => block?.ca !== undefined);
  const pairFrom = blocks.find(([, block]) => block?.cert !== undefined);
  const value = <K extends 'serverName' | 'minVersion' | 'insecureSkipVerify'>(name: K): TargetTlsConfig[K] => own.tls?.[name] ?? config.tls?.[name];
  return {
    field: own.tls !== undefined ? versionField : serviceField,
    ca: caFrom === undefined ? null : { field: `${caFrom[0]}.ca`, file: caFrom[1]?.ca ?? '' },
    cert: pairFrom === undefined ? null : { field: `${pairFrom[0]}.cert`, file: pairFrom[1]?.cert ?? '' },
    key: pairFrom === undefined ? null : { field: `${pairFrom[0]}.key`, file: pairFrom[1]?.key ?? '' },
    serverName: value('serverName') ?? null,
    minVersion: value('minVersion') ?? 'TLSv1.2',
    insecureSkipVerify: value('insecureSkipVerify') ?? false,
  };
}

/** Every version with an https:// target, by `service/version`. */
export function allTargetTlsSettings(services: Config['services']): Array<{ service: string; version: string; settings: TargetTlsSettings }> {
  const out: Array<{ service: string; version: string; settings: TargetTlsSettings }> = [];
  for (const [service, config] of Object.entries(services)) {
    for (const version of Object.keys(config.versions)) {
      const settings = targetTlsSettings(service, config, version);
      if (settings !== null) out.push({ service, version, settings });
    }
  }
  return out;
}
