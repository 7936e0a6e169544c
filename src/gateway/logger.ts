import { pino } from 'pino';
import type { Logger } from '../app/logger.js';
import type { Config } from '../config/schema.js';

/** The gateway's JSON log; a cluster worker adds its id to every line. */
export function createLogger(config: Pick<Config, 'log'>, worker?: number): Logger {
  return pino({ level: config.log.level, base: worker === undefined ? { app: 'switchyard' } : { app: 'switchyard', worker } });
}
