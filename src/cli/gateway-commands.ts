import { InvalidArgumentError, type Command } from 'commander';
import { constants } from 'node:os';
import type { Logger } from '../app/logger.js';
import type { Config } from '../config/schema.js';
import type { SampleModels } from '../demo/sample-models.js';
import { usageError } from './exit-codes.js';
import type { CliIo } from './io.js';

/**
 * `serve` and `demo` run a gateway in this process. Their modules are loaded
 * only when used, so the operator commands stay a light HTTP client.
 */

function port(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('not a port number (0..65535)');
  return n;
}

function workers(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('not a number of workers (1..64)');
  return n;
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('not a number of seconds');
  return n;
}

/**
 * SIGTERM and SIGINT drain the gateway. Supervisors and people repeat signals,
 * so a second one during the drain is logged and ignored (the requests in
 * flight keep their drain timeout); a third forces the exit, as a kill would.
 */
function drainOnSignals(drain: () => Promise<void>, log: Logger): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      log.info({ signal }, 'shutting down');
      drain().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err: String(err) }, 'drain failed');
          process.exit(1);
        },
      );
    } else if (received === 2) {
      log.warn({ signal }, 'second signal during the drain: ignored, requests in flight keep their drain timeout; a third signal forces the exit');
    } else {
      log.error({ signal }, 'third signal during the drain: forcing the exit, requests in flight are cut');
      process.exit(128 + constants.signals[signal]);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * SIGHUP re-reads the TLS files (the files are also followed on disk). The
 * handler goes in before the gateway starts, as the signal's default action
 * would end the process; one that arrives during the start is acted on once
 * the gateway serves (whoever rewrote the files just then meant it). Returns
 * what hands it the gateway's reload.
 */
function reloadTlsOnSignal(log: Logger): (reloadTls: () => number) => void {
  let reloadTls: (() => number) | null = null;
  let held = false;
  const onSignal = () => {
    if (reloadTls === null) {
      held = true;
      return;
    }
    const changed = reloadTls();
    log.info({ signal: 'SIGHUP', changed }, changed === 0 ? 'SIGHUP: TLS files re-read, nothing changed' : `SIGHUP: TLS files re-read, ${changed} set-up(s) changed`);
  };
  process.on('SIGHUP', onSignal);
  return (reload) => {
    reloadTls = reload;
    if (held) onSignal();
  };
}

/** The sample models of `serve --sample-models`; a target they cannot take is the operator's to fix (exit 2). */
async function startSampleModels(config: Config): Promise<SampleModels> {
  const { startSampleModels: start, SampleModelsError } = await import('../demo/sample-models.js');
  try {
    return await start(config);
  } catch (err) {
    throw err instanceof SampleModelsError ? usageError(err.message) : err;
  }
}

export function addGatewayCommands(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the gateway')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('-w, --workers <n>', 'proxy processes sharing the proxy port (default: proxy.workers, 1)', workers)
    .option('--sample-models', "also start a sample model on each of the config's loopback http:// targets (for trying it out: npm start)")
    .action(async (opts: { config: string; workers?: number; sampleModels?: boolean }) => {
      const { loadConfig } = await import('../config/load.js');
      const { startGateway } = await import('../gateway/gateway.js');
      const { createLogger } = await import('../gateway/logger.js');
      const { readyWorkersNeeded } = await import('../gateway/cluster/ready-workers.js');
      const { assertTlsFiles } = await import('../tls/tls-registry.js');
      const { assertProtoFiles } = await import('../grpc-proto/answer-decoder.js');
      const config = loadConfig(opts.config);
      // The files the config names, read now: every problem is one line before anything starts.
      assertTlsFiles(config, opts.config, Date.now());
      assertProtoFiles(config, opts.config);
      const log = createLogger(config);
      const count = opts.workers ?? config.proxy.workers;
      // Refused before anything starts, in one process too: a config /readyz could never pass under --workers.
      readyWorkersNeeded(config, count);
      // The models first, so the first request the banner prints is answered.
      const models = opts.sampleModels === true ? await startSampleModels(config) : null;
      const serving = reloadTlsOnSignal(log);
      let gateway;
      try {
        gateway = count > 1 ? await (await import('../gateway/cluster/primary.js')).startCluster(config, { workers: count, log }) : await startGateway(config, { log });
      } catch (err) {
        await models?.close();
        throw err;
      }
      drainOnSignals(async () => {
        await gateway.drain();
        await models?.close();
      }, log);
      serving(gateway.reloadTls);
      if (models !== null) {
        const { serveBanner } = await import('./serve-banner.js');
        const { packageVersion } = await import('../version.js');
        const banner = serveBanner({ version: packageVersion(), configFile: opts.config, config, proxyUrl: gateway.proxyUrl, adminUrl: gateway.adminUrl, models: models.started });
        io.out(`${banner.join('\n')}\n`);
      }
    });

  program
    .command('demo')
    .description('run two sample models behind the gateway on the in-memory store and show a rollout')
    .option('--proxy-port <port>', 'proxy port', port, 8080)
    .option('--admin-port <port>', 'admin port', port, 8081)
    .option('--duration <seconds>', 'stop after this many seconds (0: run until Ctrl-C)', seconds, 0)
    .action(async (opts: { proxyPort: number; adminPort: number; duration: number }) => {
      const { runDemo } = await import('../demo/demo.js');
      await runDemo({ proxyPort: opts.proxyPort, adminPort: opts.adminPort, durationMs: opts.duration * 1000, print: (l) => io.out(`${l}\n`) });
    });
}
