import { z } from 'zod';

/**
 * The `store.redis` section: one Redis by URL, a Sentinel group, or a Cluster.
 *
 *   store:
 *     redis:
 *       sentinels: [ { host: redis-sentinel-0, port: 26379 }, ... ]
 *       name: mymaster
 *       password: "${REDIS_PASSWORD}"           # the masters and replicas
 *       sentinelPassword: "${SENTINEL_PASSWORD}" # when the sentinels ask for one too
 *
 * A URL carries its own credentials (`redis://user:password@host:6379`), so the
 * credential fields belong to the Sentinel and Cluster forms only.
 */

const node = z.strictObject({
  host: z.string().min(1, { message: 'must not be empty' }),
  port: z.int({ message: 'must be a whole number' }).min(1, { message: 'must be a port, 1 to 65535' }).max(65535, { message: 'must be a port, 1 to 65535' }),
});
const nodes = z.array(node).min(1, { message: 'must name at least one node' });
const secret = z.string().min(1, { message: 'must not be empty (leave the field out when no password is asked for)' });

export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, { message: 'not a redis:// or rediss:// URL' }).optional(),
    sentinels: nodes.optional(),
    /** The master group the sentinels watch. */
    name: z.string().min(1, { message: 'must not be empty' }).optional(),
    cluster: nodes.optional(),
    /** An ACL user of the Redis servers (Redis 6+); without it, the default user. */
    username: z.string().min(1, { message: 'must not be empty' }).optional(),
    /** The password of the Redis servers: the masters and replicas of a Sentinel group, or the Cluster's nodes. */
    password: secret.optional(),
    sentinelUsername: z.string().min(1, { message: 'must not be empty' }).optional(),
    /** The sentinels' own password (their `requirepass`), when they ask for one. */
    sentinelPassword: secret.optional(),
    keyPrefix: z.string().regex(/^[A-Za-z0-9:_-]*$/, { message: 'use letters, digits, ":", "_" or "-"' }).default('sy'),
  })
  .superRefine((r, ctx) => {
    const given = (['url', 'sentinels', 'cluster'] as const).filter((key) => r[key] !== undefined);
    if (given.length !== 1) {
      const found = given.length === 0 ? 'none was given' : `${given.join(' and ')} were given`;
      ctx.addIssue({ code: 'custom', message: `give exactly one of url, sentinels (with name) or cluster: ${found}` });
    }
    if (r.sentinels !== undefined && r.name === undefined) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'required with sentinels: the name of the master group they watch' });
    }
    if (r.sentinels === undefined && r.name !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'is the master group of sentinels, and no sentinels were given' });
    }
    if (r.url !== undefined) {
      for (const key of ['username', 'password'] as const) {
        if (r[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'goes in the URL (redis://user:password@host:6379), not beside it' });
      }
    }
    if (r.username !== undefined && r.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'required with username' });
    }
    if (r.sentinels === undefined) {
      for (const key of ['sentinelUsername', 'sentinelPassword'] as const) {
        if (r[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is for the sentinels, and no sentinels were given' });
      }
    }
    if (r.sentinelUsername !== undefined && r.sentinelPassword === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sentinelPassword'], message: 'required with sentinelUsername' });
    }
  });
