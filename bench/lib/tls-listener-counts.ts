import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What bench/lib/tls-listener-hook.ts counted in one process of the gateway. */
export interface ListenerCounts {
  handshakes: number;
  resumed: number;
  failed: number;
  /** Failed handshakes by reason (an error code, or OpenSSL's reason). */
  failedBy: Record<string, number>;
  /** Of the first handshake, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`. */
  negotiated: string;
}

/** Node flags that load the counting hook into a gateway's processes. */
export const LISTENER_HOOK_ARGV = [`--import=${new URL('./tls-listener-hook.js', import.meta.url).href}`];

/** A directory the hook of one gateway writes into, and the sum of what its processes counted so far. */
export function listenerCounter(): { readonly env: Record<string, string>; read(): ListenerCounts; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-tls-count-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  return {
    env: { BENCH_TLS_COUNT_DIR: dir },
    read() {
      const sum: ListenerCounts = { handshakes: 0, resumed: 0, failed: 0, failedBy: {}, negotiated: '' };
      for (const name of readdirSync(dir)) {
        if (!name.endsWith('.json')) continue;
        const one = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ListenerCounts;
        sum.handshakes += one.handshakes;
        sum.resumed += one.resumed;
        sum.failed += one.failed;
        for (const [why, n] of Object.entries(one.failedBy)) sum.failedBy[why] = (sum.failedBy[why] ?? 0) + n;
        if (sum.negotiated === '') sum.negotiated = one.negotiated;
      }
      return sum;
    },
    remove,
  };
}

/** A failed handshake's reason in a few words: the error code, or OpenSSL's reason string. */
export function failureReason(err: unknown): string {
  const e = err as { code?: string; reason?: string; message?: string } | undefined;
  return e?.reason ?? e?.code ?? e?.message?.slice(0, 60) ?? 'unknown';
}
