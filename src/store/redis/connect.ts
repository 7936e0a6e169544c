import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../app/logger.js';
import type { RedisConfig } from '../../config/schema.js';
import { RedisStore, type RedisStoreTuning } from './redis-store.js';

type RedisClient = Redis | Cluster;
type ClientRole = 'command' | 'subscriber';

/** A blackholed Redis must not hold an admin write for long: it answers 503 after this. */
const COMMAND_TIMEOUT_MS = 2_000;
const CONNECT_TIMEOUT_MS = 2_000;

/** Reconnects forever, 100 ms, 200 ms, 400 ms, ... capped at 1 s, so a returning Redis is found within a second. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt - 1), 1_000);
}

function clientOptions(role: ClientRole): RedisOptions {
  return {
    connectionName: `switchyard-${role}`,
    // ioredis 6 speaks RESP3 (HELLO 3; RESP2 to a server older than 6). The legacy mapping keeps
    // RESP2's reply shapes, which the store decodes: maps as flat arrays (HGETALL still answers
    // an object), doubles as strings. Script replies are the same on both protocols as long as
    // no script calls redis.setresp(3).
    replyMapping: 'legacy',
    // Maintenance notifications (Redis Enterprise and Cloud) would stretch the command timeout
    // below to 10 s and move connections on their own; the store fails fast and reconnects itself.
    maintNotifications: 'disabled',
    // Fail fast while disconnected: an admin write answers 503 at once instead of
    // waiting in a queue, and the proxy keeps routing on what it knew (fail-static).
    enableOfflineQueue: false,
    // A command in flight when the connection drops fails with it and is never
    // replayed after the reconnect: its caller has already been told it failed.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The store resubscribes itself on every 'ready', so it knows when the subscription is live again.
    autoResubscribe: false,
    // Only for commands: a subscription legitimately waits forever for messages.
    ...(role === 'command' ? { commandTimeout: COMMAND_TIMEOUT_MS } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelayMs,
    // After a Sentinel failover the old master turns replica: reconnect to find the new one.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

/**
 * One ioredis client for a standalone URL, a Sentinel group or a Cluster, as
 * configured; the config schema has made sure exactly one is given.
 */
function createRedisClient(config: RedisConfig, role: ClientRole): RedisClient {
  const options = clientOptions(role);
  if (config.url !== undefined) return new Redis(config.url, options);
  const credentials = { username: config.username, password: config.password };
  if (config.sentinels !== undefined) {
    return new Redis({
      ...options,
      ...credentials,
      sentinels: config.sentinels,
      name: config.name,
      sentinelUsername: config.sentinelUsername,
      sentinelPassword: config.sentinelPassword,
      sentinelRetryStrategy: reconnectDelayMs,
    });
  }
  return new Cluster(config.cluster ?? [], {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelayMs,
    redisOptions: { ...options, ...credentials },
  });
}

/** The Redis store as configured: one connection for commands, one for change messages. */
export function createRedisStore(config: RedisConfig, log: Logger, tuning: RedisStoreTuning = {}): RedisStore {
  const client = createRedisClient(config, 'command');
  const subscriber = createRedisClient(config, 'subscriber');
  return new RedisStore({ client, subscriber, keyPrefix: config.keyPrefix, log, ...tuning });
}
