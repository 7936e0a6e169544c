import cluster from 'node:cluster';
import type { ToPrimary } from './messages.js';
import { runWorker } from './worker.js';

/** The entry point the cluster's primary forks (see primary.ts). */
const worker = cluster.worker;
if (worker === undefined) {
  console.error('switchyard: worker-main is started by `switchyard serve --workers N`, not by hand');
  process.exit(2);
}
runWorker((message: ToPrimary, sent?: () => void) => {
  if (process.connected) process.send?.(message, undefined, {}, () => sent?.());
  else sent?.();
}, worker.id);
