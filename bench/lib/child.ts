import { fork, type ChildProcess } from 'node:child_process';
import type { ProcStats } from './proc-stats.js';

/** A forked helper process (backend or proxy) spoken to over IPC. */
export class Child<Ready extends object> {
  private nextId = 0;
  private readonly waiting = new Map<number, (msg: Record<string, unknown>) => void>();

  private constructor(
    readonly proc: ChildProcess,
    readonly ready: Ready,
  ) {
    proc.on('message', (msg: { id?: number }) => {
      if (msg.id === undefined) return;
      this.waiting.get(msg.id)?.(msg as Record<string, unknown>);
      this.waiting.delete(msg.id);
    });
  }

  /** `execArgv` lets a run profile a child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  static start<R extends object>(file: URL, args: string[], env: Record<string, string> = {}, execArgv: string[] = []): Promise<Child<R>> {
    const proc = fork(file, args, { execArgv, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file.pathname} ${args.join(' ')} did not start`)), 15_000);
      proc.once('exit', (code) => reject(new Error(`${file.pathname} ${args.join(' ')} exited with ${String(code)}`)));
      proc.once('message', (msg: { type: string } & R) => {
        clearTimeout(timer);
        if (msg.type === 'ready') resolve(new Child<R>(proc, msg));
      });
    });
  }

  private ask(type: string): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.send({ type, id });
    });
  }

  async reset(): Promise<void> {
    await this.ask('reset');
  }

  async trace(): Promise<{ ids: string[]; times: number[] }> {
    return (await this.ask('trace')).trace as { ids: string[]; times: number[] };
  }

  async stats<Extra extends object = object>(): Promise<ProcStats & Extra> {
    return (await this.ask('stats')).stats as ProcStats & Extra;
  }

  /** Disconnects so the child exits on its own (and writes a --cpu-prof profile); SIGTERM if it lingers. */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.removeAllListeners('exit');
      const timer = setTimeout(() => this.proc.kill('SIGTERM'), 5_000);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.proc.disconnect();
    });
  }
}
