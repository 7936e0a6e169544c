import type { Config } from '../config/schema.js';
import { startSampleBackend } from './sample-backend.js';
import { startSampleGrpcModel } from './sample-grpc-model.js';

/** Where one sample model listens, and the first version of the config that names it. */
export interface SampleTarget {
  readonly service: string;
  readonly version: string;
  readonly protocol: 'http' | 'grpc';
  readonly host: string;
  readonly port: number;
}

export interface SampleModels {
  readonly started: readonly SampleTarget[];
  close(): Promise<void>;
}

/** Why `serve --sample-models` cannot start the config's models; its message names the target. */
export class SampleModelsError extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The models `serve --sample-models` starts: one per distinct loopback
 * `http://host:port` target of the config. Any other target is refused, as
 * a sample model could not listen there, or would stand in for a real one.
 */
export function sampleTargets(config: Pick<Config, 'services'>): SampleTarget[] {
  const byAddress = new Map<string, SampleTarget>();
  const refused: string[] = [];
  for (const [service, svc] of Object.entries(config.services)) {
    for (const [version, v] of Object.entries(svc.versions)) {
      v.targets.forEach((text, i) => {
        const url = new URL(text);
        if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname) || url.port === '') {
          refused.push(`services.${service}.versions.${version}.targets[${i}] (${text})`);
          return;
        }
        const host = url.hostname === '[::1]' ? '::1' : url.hostname;
        const address = `${host}:${url.port}`;
        if (!byAddress.has(address)) byAddress.set(address, { service, version, protocol: svc.protocol, host, port: Number(url.port) });
      });
    }
  }
  if (refused.length > 0) {
    throw new SampleModelsError(`--sample-models starts models only on loopback http:// targets with a port (127.0.0.1, localhost, [::1]); not on ${refused.join(', ')}`);
  }
  return [...byAddress.values()];
}

async function startOne(target: SampleTarget): Promise<{ close(): Promise<void> }> {
  const { version, host, port } = target;
  try {
    return target.protocol === 'grpc' ? await startSampleGrpcModel({ version, host, port }) : await startSampleBackend({ version, host, port });
  } catch (err) {
    const cause = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the address is in use; is a model already running there? Then start without --sample-models' : String(err);
    throw new SampleModelsError(`sample model ${target.service} ${version} cannot listen on ${host}:${port}: ${cause}`);
  }
}

/** Starts the config's sample models; when one cannot listen, those already started are closed again. */
export async function startSampleModels(config: Pick<Config, 'services'>): Promise<SampleModels> {
  const targets = sampleTargets(config);
  const running: { close(): Promise<void> }[] = [];
  const close = async () => {
    await Promise.all(running.splice(0).map((m) => m.close()));
  };
  try {
    for (const target of targets) running.push(await startOne(target));
  } catch (err) {
    await close();
    throw err;
  }
  return { started: targets, close };
}
