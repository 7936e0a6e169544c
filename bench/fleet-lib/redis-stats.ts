import { Redis } from 'ioredis';

/** What Redis says it did: calls per command (commands run by scripts included) and the CPU of its main thread. */
export interface RedisSample {
  readonly at: number;
  readonly calls: ReadonlyMap<string, number>;
  /** used_cpu_user_main_thread + used_cpu_sys_main_thread, seconds: the thread that runs every command. */
  readonly mainCpuS: number;
  /** used_cpu_user + used_cpu_sys, seconds: every thread of the process. */
  readonly cpuS: number;
}

export interface RedisDelta {
  readonly seconds: number;
  /** Calls per second by command, the bench's own INFO left out. */
  readonly perS: ReadonlyMap<string, number>;
  readonly totalPerS: number;
  /** Share of one core used by the main thread, 0..1. */
  readonly mainCpu: number;
  readonly cpu: number;
}

/** The bench's own commands, left out of the figures. */
const OWN = new Set(['info', 'flushall', 'config|resetstat', 'hello', 'client|setname', 'client|setinfo']);

function field(info: string, name: string): number {
  const match = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  return match === null ? NaN : Number(match[1]);
}

export class RedisStats {
  private constructor(private readonly client: Redis) {}

  static async connect(url: string): Promise<RedisStats> {
    const client = new Redis(url, { maxRetriesPerRequest: 1 });
    await client.ping();
    return new RedisStats(client);
  }

  async sample(): Promise<RedisSample> {
    const [commands, cpu] = await Promise.all([this.client.info('commandstats'), this.client.info('cpu')]);
    const calls = new Map<string, number>();
    for (const match of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
    const mainCpuS = field(cpu, 'used_cpu_user_main_thread') + field(cpu, 'used_cpu_sys_main_thread');
    return { at: performance.now(), calls, mainCpuS, cpuS: field(cpu, 'used_cpu_user') + field(cpu, 'used_cpu_sys') };
  }

  /** Empties the store between fleets, so one fleet's keys do not weigh on the next. */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  async close(): Promise<void> {
    await this.client.quit();
  }
}

export function delta(from: RedisSample, to: RedisSample): RedisDelta {
  const seconds = (to.at - from.at) / 1000;
  const perS = new Map<string, number>();
  for (const [command, calls] of to.calls) {
    if (OWN.has(command)) continue;
    const n = (calls - (from.calls.get(command) ?? 0)) / seconds;
    if (n > 0) perS.set(command, n);
  }
  return {
    seconds,
    perS,
    totalPerS: [...perS.values()].reduce((a, b) => a + b, 0),
    mainCpu: (to.mainCpuS - from.mainCpuS) / seconds,
    cpu: (to.cpuS - from.cpuS) / seconds,
  };
}
