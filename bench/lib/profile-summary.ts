import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { renderTable } from './table.js';

/**
 * Where a proxy's CPU goes, from V8 CPU profiles (`node --cpu-prof`): self time of
 * every function, grouped into socket writes, socket reads, the HTTP parser, node's
 * HTTP code, streams and events, our code, dependencies and GC.
 *
 *   node dist/bench/lib/profile-summary.js DIR-or-FILES… [--top 25]
 *
 * A directory stands for all the .cpuprofile files in it (a cluster writes one per
 * process); the files are added together, idle time left out.
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const WRITE_FNS = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String', 'writeGeneric', 'writevGeneric', 'handleWriteReq']);
const PARSER_FNS = new Set(['execute', 'parserOnHeadersComplete', 'parserOnBody', 'parserOnMessageComplete', 'parserOnHeaders', 'finish', 'initialize', 'consume', 'unconsume']);

/** The group a function's self time belongs to. */
export function groupOf(frame: CallFrame): string {
  const { functionName: fn, url } = frame;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native, unattributed (V8, libuv, syscalls)';
  if (WRITE_FNS.has(fn)) return 'socket writes';
  if (fn === 'onStreamRead' || fn === 'readStart' || fn === 'readStop') return 'socket reads';
  if (url.includes('_http_common') || (url === '' && PARSER_FNS.has(fn))) return 'HTTP parser';
  if (url.includes('node_modules/')) return `dependency ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`;
  if (url.includes('/dist/src/') || url.includes('/src/')) return 'Switchyard JS';
  if (/node:_http_|node:http$/.test(url)) return "node's HTTP JS (_http_*)";
  if (/node:net|node:internal\/(stream_base_commons|net)|node:internal\/tcp/.test(url)) return 'net JS';
  if (/node:internal\/streams|node:stream|node:events|node:internal\/event_target/.test(url)) return 'streams and events';
  if (/node:internal\/timers|node:timers/.test(url)) return 'timers';
  if (url === '') return 'native, other';
  return 'other node JS';
}

/** Self time per function (µs), the sample's delta given to the sample before it. */
function selfTimes(profile: CpuProfile): Map<ProfileNode, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<ProfileNode, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] as number);
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (node !== undefined && dt > 0) out.set(node, (out.get(node) ?? 0) + dt);
  }
  return out;
}

function profileFiles(args: readonly string[]): string[] {
  return args.flatMap((arg) =>
    statSync(arg).isDirectory()
      ? readdirSync(arg)
          .filter((f) => f.endsWith('.cpuprofile'))
          .map((f) => join(arg, f))
      : [arg],
  );
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly groups: readonly { group: string; ms: number; share: number }[];
  readonly top: readonly { fn: string; where: string; group: string; ms: number; share: number }[];
  readonly files: readonly { file: string; busyMs: number }[];
}

export function summarise(files: readonly string[], topN = 25): ProfileSummary {
  const groups = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; group: string; us: number }>();
  const perFile: { file: string; busyMs: number }[] = [];
  let idleUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    let busyUs = 0;
    for (const [node, us] of selfTimes(profile)) {
      const group = groupOf(node.callFrame);
      if (group === 'idle') {
        idleUs += us;
        continue;
      }
      busyUs += us;
      groups.set(group, (groups.get(group) ?? 0) + us);
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url === '' ? '(native)' : `${url.replace(/^file:\/\/.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
      const key = `${functionName}@${where}`;
      const entry = fns.get(key) ?? { fn: functionName === '' ? '(anonymous)' : functionName, where, group, us: 0 };
      entry.us += us;
      fns.set(key, entry);
    }
    perFile.push({ file: basename(file), busyMs: busyUs / 1000 });
  }
  const busyUs = [...groups.values()].reduce((a, b) => a + b, 0);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    groups: [...groups]
      .map(([group, us]) => ({ group, ms: us / 1000, share: us / busyUs }))
      .sort((a, b) => b.ms - a.ms),
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ fn: f.fn, where: f.where, group: f.group, ms: f.us / 1000, share: f.us / busyUs })),
    files: perFile,
  };
}

export function printSummary(s: ProfileSummary): void {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  console.log(`profiles: ${s.files.map((f) => `${f.file} (${f.busyMs.toFixed(0)} ms busy)`).join(', ')}`);
  console.log(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms\n`);
  console.log(renderTable(['self time by group', 'ms', 'share of busy'], s.groups.map((g) => [g.group, g.ms.toFixed(0), pct(g.share)])));
  console.log('');
  console.log(renderTable(['function', 'where', 'group', 'ms', 'share'], s.top.map((f) => [f.fn, f.where, f.group, f.ms.toFixed(0), pct(f.share)])));
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]));
if (isMain) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const topN = topAt === -1 ? 25 : Number(args[topAt + 1]);
  const paths = topAt === -1 ? args : args.filter((_, i) => i !== topAt && i !== topAt + 1);
  if (paths.length === 0) {
    console.error('usage: node dist/bench/lib/profile-summary.js DIR-or-FILE.cpuprofile… [--top 25]');
    process.exit(2);
  }
  printSummary(summarise(profileFiles(paths), topN));
}
