import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, pollUntil } from '../lib/http-probe.js';
import { own, stopTree } from '../lib/proc-tree.js';

/**
 * A sample model (src/demo/sample-backend.ts) in its own process, as compose
 * runs it: answers any path at once; `POST /_control` changes how it behaves.
 */
export interface SampleModel {
  readonly url: string;
  /** Share of requests answered 500, 0..1. */
  setErrorRate(errorRate: number): Promise<void>;
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('../../src/demo/sample-backend-main.js', import.meta.url));

export async function startSampleModel(version: string): Promise<SampleModel> {
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: String(port), VERSION: version, HOST: '127.0.0.1' }, stdio: 'ignore' });
  own(proc);
  const url = `http://127.0.0.1:${port}`;
  try {
    await pollUntil(url, (r) => r.ok, 10_000);
  } catch (err) {
    await stopTree(proc);
    throw err;
  }
  return {
    url,
    setErrorRate: async (errorRate) => {
      const res = await fetch(`${url}/_control`, { method: 'POST', body: JSON.stringify({ errorRate }) });
      if (!res.ok) throw new Error(`sample model ${version}: /_control answered ${res.status}`);
      await res.arrayBuffer();
    },
    stop: () => stopTree(proc),
  };
}
