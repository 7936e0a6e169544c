import { InvalidArgumentError, type Command } from 'commander';
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

export function addGatewayCommands(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the gateway')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('-w, --workers <n>', 'proxy processes sharing the proxy port (default: proxy.workers, 1)', workers)
    .action(async (opts: { config: string; workers?: number }) => {
      const { loadConfig } = await import('../config/load.js');
      const { createLogger, startGateway } = await import('../main.js');
      const config = loadConfig(opts.config);
      const log = createLogger(config);
      const count = opts.workers ?? config.proxy.workers;
      let drain: () => Promise<void>;
      if (count > 1) {
        const { startCluster } = await import('../cluster/primary.js');
        drain = (await startCluster(config, { workers: count, log })).drain;
      } else {
        drain = (await startGateway(config, { log })).drain;
      }
      const shutdown = (signal: string) => {
        log.info({ signal }, 'shutting down');
        drain().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err: String(err) }, 'drain failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
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
