import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One load run as wrk's Lua `done` hook reports it; latencies in microseconds. */
export interface LoadResult {
  readonly requests: number;
  readonly durationUs: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Socket errors plus non-2xx/3xx answers: must be 0 for a valid figure. */
  readonly errors: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly seconds: number;
  /** How many distinct sticky keys the requests cycle through (one per request in turn). */
  readonly keys: number;
  readonly keyHeader: string;
}

/** Requests are formatted once in `init` and cycled, so wrk spends no Lua time building them per request. */
const SCRIPT = `
local reqs = {}
local n = 0
local i = 0
init = function(args)
  n = tonumber(args[1])
  local header = args[2]
  -- threads start at different keys so they do not walk in step
  i = math.random(n) - 1
  for k = 1, n do
    local h = {}
    h[header] = "user-" .. k
    reqs[k] = wrk.format("GET", nil, h)
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests":%d,"durationUs":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;

let scriptPath: string | undefined;

export function wrkVersion(): string | null {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (probe.error !== undefined) return null;
  return (probe.stdout + probe.stderr).split('\n')[0]?.trim() ?? 'wrk';
}

/** Runs wrk in its own process and resolves with its figures. */
export function runWrk(options: LoadOptions): Promise<LoadResult> {
  if (scriptPath === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scriptPath = join(dir, 'keys.lua');
    writeFileSync(scriptPath, SCRIPT);
  }
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '5s',
    '-s',
    scriptPath,
    options.url,
    '--',
    String(options.keys),
    options.keyHeader,
  ];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { encoding: 'utf8', timeout: (options.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err !== null) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('WRK_RESULT '));
      if (line === undefined) return reject(new Error(`wrk printed no result:\n${stdout}\n${stderr}`));
      const raw = JSON.parse(line.slice('WRK_RESULT '.length)) as Omit<LoadResult, 'rps'>;
      resolve({ ...raw, rps: raw.requests / (raw.durationUs / 1e6) });
    });
  });
}
