import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** SIGTERM, then removes the data directory. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or a pulled cable looks to clients (fail-static tests). */
  kill(): Promise<void>;
  /** Starts the server again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
}

/** Where a node listens, as `store.redis.sentinels` and `store.redis.cluster` take it. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/** A master, one replica and three sentinels watching them, quorum 2. */
export interface SentinelGroup {
  /** The master group name (`store.redis.name`). */
  readonly name: string;
  readonly sentinels: readonly RedisAddress[];
  /** The master the sentinels name now. */
  master(): Promise<RedisAddress>;
  /** SIGKILLs the master the sentinels name now and answers its address; the replica is left to be promoted. */
  killMaster(): Promise<RedisAddress>;
  /** Stops every process and removes the directory. */
  stop(): Promise<void>;
}

export interface SentinelOptions {
  /** How long the master may be unreachable before the sentinels fail it over (default 1 s). */
  readonly downAfterMs?: number;
  /** The master's and replica's `requirepass` (and `masterauth`); the sentinels are told it. */
  readonly password?: string;
  /** The sentinels' own `requirepass`. */
  readonly sentinelPassword?: string;
}

/** A Cluster of masters without replicas, every slot assigned. */
export interface RedisCluster {
  readonly nodes: readonly RedisAddress[];
  /** Stops every node and removes the directory. */
  stop(): Promise<void>;
}

export const REDIS_SERVER_MISSING =
  'redis-server not found: install it with "apt-get install redis-server" (or run npm test as root to let pretest install it)';
export const REDIS_SENTINEL_MISSING =
  'redis-sentinel not found: install it with "apt-get install redis-sentinel" (or run npm test as root to let pretest install it)';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5_000;
/** Bound on a group or cluster agreeing on its shape; sentinels find each other through 2-second hello messages. */
const SETTLE_TIMEOUT_MS = 20_000;
const CLUSTER_SLOTS = 16_384;

/** A running process of the Redis family and the port it answers on. */
interface Node {
  readonly port: number;
  readonly child: ChildProcess;
}

/** Spawns the Debian `redis-server` on a free loopback port with a throw-away directory, and waits until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const binary = requireBinary('redis-server', REDIS_SERVER_MISSING);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
  try {
    const started = await launch(binary, (port) => serverArgs(port, dir), dir);
    const { port } = started;
    let { child } = started;
    return {
      port,
      url: `redis://${HOST}:${port}`,
      stop: async () => {
        await stopNode({ port, child }, 'SIGTERM');
        await rm(dir, { recursive: true, force: true });
      },
      kill: () => stopNode({ port, child }, 'SIGKILL'),
      restart: async () => {
        await stopNode({ port, child }, 'SIGTERM');
        await mkdir(dir, { recursive: true });
        child = await spawnReady(binary, serverArgs(port, dir), port, dir);
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A Sentinel set-up from Debian's `redis-server` and `redis-sentinel`: a master,
 * a replica in sync with it, and three sentinels that know both and each other,
 * so a failover can start as soon as the master has been unreachable for
 * `downAfterMs`.
 */
export async function startSentinelGroup(options: SentinelOptions = {}): Promise<SentinelGroup> {
  const server = requireBinary('redis-server', REDIS_SERVER_MISSING);
  const sentinelBinary = requireBinary('redis-sentinel', REDIS_SENTINEL_MISSING);
  const name = 'switchyard';
  const downAfterMs = options.downAfterMs ?? 1_000;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-sentinel-'));
  const nodes: Node[] = [];
  const toServer = speaker(options.password);
  const toSentinel = speaker(options.sentinelPassword);
  try {
    const master = await launch(server, (port) => serverArgs(port, dir, options.password), dir);
    nodes.push(master);
    const replica = await launch(server, (port) => [...serverArgs(port, dir, options.password), '--replicaof', HOST, String(master.port)], dir);
    nodes.push(replica);
    await until(async () => (await toServer.ask(replica.port, 'INFO', 'replication')).includes('master_link_status:up'), 'the replica to sync');

    const sentinels: Node[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await launch(sentinelBinary, async (port) => [await sentinelConfig(dir, port, name, master.port, downAfterMs, options)], dir);
      nodes.push(sentinel);
      sentinels.push(sentinel);
    }
    // A failover needs every sentinel to know the replica and the other two (for the quorum and the vote).
    await until(async () => {
      const views = await Promise.all(sentinels.map(async (s) => fields(await toSentinel.askArray(s.port, 'SENTINEL', 'MASTER', name))));
      return views.every((view) => view.get('num-slaves') === '1' && view.get('num-other-sentinels') === '2');
    }, 'the sentinels to find the replica and each other');

    const sentinelAddresses = sentinels.map((s) => ({ host: HOST, port: s.port }));
    const currentMaster = async (): Promise<RedisAddress> => {
      for (const sentinel of sentinels) {
        const reply = await toSentinel.askArray(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => null);
        if (reply !== null && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
      }
      throw new Error(`no sentinel of group ${name} names a master`);
    };
    return {
      name,
      sentinels: sentinelAddresses,
      master: currentMaster,
      killMaster: async () => {
        const address = await currentMaster();
        const node = nodes.find((n) => n.port === address.port);
        if (node === undefined) throw new Error(`the sentinels name ${address.host}:${address.port}, which this group did not start`);
        await stopNode(node, 'SIGKILL');
        return address;
      },
      stop: () => stopAll(nodes, dir),
    };
  } catch (err) {
    await stopAll(nodes, dir);
    throw err;
  }
}

/**
 * A Redis Cluster of `masters` nodes from Debian's `redis-server`, the slots split
 * evenly, each node on a free port with its bus on another, and every node
 * agreeing that the cluster is ok.
 */
export async function startRedisCluster(masters = 3, options: { password?: string } = {}): Promise<RedisCluster> {
  const server = requireBinary('redis-server', REDIS_SERVER_MISSING);
  const { ask } = speaker(options.password);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-'));
  const nodes: Array<Node & { busPort: number }> = [];
  try {
    for (let i = 0; i < masters; i++) {
      let busPort = 0;
      const node = await launch(
        server,
        async (port) => {
          // The bus port is chosen too: port + 10000, the default, may be taken or past 65535.
          busPort = await freePort();
          const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort)];
          return [...serverArgs(port, dir, options.password), ...clusterArgs, '--cluster-node-timeout', '2000'];
        },
        dir,
      );
      nodes.push({ ...node, busPort });
    }
    const perNode = Math.ceil(CLUSTER_SLOTS / masters);
    for (const [i, node] of nodes.entries()) {
      // Distinct config epochs up front, as redis-cli --cluster create sets them, so no slot owner is contested.
      await ask(node.port, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      const slots = Array.from({ length: Math.min(perNode, CLUSTER_SLOTS - i * perNode) }, (_, s) => i * perNode + s);
      await ask(node.port, 'CLUSTER', 'ADDSLOTS', ...slots);
    }
    const [seed, ...others] = nodes;
    if (seed === undefined) throw new Error('a cluster needs at least one master');
    for (const node of others) await ask(seed.port, 'CLUSTER', 'MEET', HOST, node.port, node.busPort);
    await until(async () => {
      const infos = await Promise.all(nodes.map((n) => ask(n.port, 'CLUSTER', 'INFO')));
      return infos.every(
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`) && info.includes(`cluster_slots_ok:${CLUSTER_SLOTS}`),
      );
    }, 'every cluster node to see all nodes and slots');
    return { nodes: nodes.map((n) => ({ host: HOST, port: n.port })), stop: () => stopAll(nodes, dir) };
  } catch (err) {
    await stopAll(nodes, dir);
    throw err;
  }
}

/** With a password, the server asks its clients for it and gives it to its master (a replica's, or a promoted one's). */
function serverArgs(port: number, dir: string, password?: string): string[] {
  return [
    ...['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
    ...['--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--logfile', logfile(dir, port)],
    // A master waits 5 s by default for more replicas before a full sync; a test's replica is the only one.
    ...['--repl-diskless-sync-delay', '0'],
    ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
  ];
}

/** Sentinel takes its settings from a file it may rewrite, so each one gets its own. */
async function sentinelConfig(dir: string, port: number, name: string, masterPort: number, downAfterMs: number, auth: SentinelOptions): Promise<string> {
  const file = join(dir, `sentinel-${port}.conf`);
  const lines = [
    `port ${port}`,
    `bind ${HOST}`,
    `dir ${dir}`,
    `logfile ${logfile(dir, port)}`,
    `sentinel monitor ${name} ${HOST} ${masterPort} 2`,
    `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
    // A split vote is retried after twice this; the default (3 minutes) would stall a test.
    `sentinel failover-timeout ${name} 4000`,
    // The servers' password, and the sentinels' own, which they also give each other.
    ...(auth.password === undefined ? [] : [`sentinel auth-pass ${name} ${auth.password}`]),
    ...(auth.sentinelPassword === undefined ? [] : [`requirepass ${auth.sentinelPassword}`, `sentinel sentinel-pass ${auth.sentinelPassword}`]),
  ];
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

function logfile(dir: string, port: number): string {
  return join(dir, `redis-${port}.log`);
}

function requireBinary(name: string, missing: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(missing);
}

/** Starts a process on a free port; another process may take the port between the probe and the bind, so it tries a few. */
async function launch(binary: string, argsFor: (port: number) => string[] | Promise<string[]>, dir: string): Promise<Node> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return { port, child: await spawnReady(binary, await argsFor(port), port, dir) };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Spawns and waits until the process answers PING; a process that exits first fails with the end of its log. */
async function spawnReady(binary: string, args: readonly string[], port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: 'ignore' });
  const exited = once(child, 'exit').then(async ([code]) => {
    const log = await readFile(logfile(dir, port), 'utf8').catch(() => '');
    throw new Error(`${binary} on port ${port} exited with ${String(code)}: ${log.trim().split('\n').slice(-3).join(' | ')}`);
  });
  exited.catch(() => undefined); // only the wait below cares; later exits are stop(), kill() or a test's doing
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (!(await Promise.race([answersPing(port), exited]))) {
      if (Date.now() > deadline) throw new Error(`${binary} on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

async function stopNode(node: Node, signal: NodeJS.Signals): Promise<void> {
  const { child } = node;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    await once(child, 'exit');
  }
}

async function stopAll(nodes: readonly Node[], dir: string): Promise<void> {
  await Promise.all(nodes.map((node) => stopNode(node, 'SIGTERM')));
  await rm(dir, { recursive: true, force: true });
}

/** Polls a check against live processes; a check that throws (a node still starting) counts as not yet. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${SETTLE_TIMEOUT_MS} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One command on a fresh connection that never retries: the set-up's own view, apart from the clients under test. */
async function command(port: number, args: ReadonlyArray<string | number>, password?: string): Promise<unknown> {
  const client = new Redis({ host: HOST, port, password, protocol: 2, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1_000, commandTimeout: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [name = '', ...rest] = args;
    return await client.call(String(name), ...rest);
  } finally {
    client.disconnect();
  }
}

/** Commands to nodes that ask for `password` (or for none). */
function speaker(password?: string) {
  return {
    ask: async (port: number, ...args: Array<string | number>): Promise<string> => String(await command(port, args, password)),
    askArray: async (port: number, ...args: Array<string | number>): Promise<unknown[]> => {
      const reply = await command(port, args, password);
      if (!Array.isArray(reply)) throw new Error(`${args.join(' ')} on port ${port} answered ${String(reply)}`);
      return reply;
    },
  };
}

/** A flat [field, value, ...] reply as a map. */
function fields(reply: readonly unknown[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), String(reply[i + 1]));
  return map;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        // A server that asks for a password answers NOAUTH: it is up all the same.
        resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
