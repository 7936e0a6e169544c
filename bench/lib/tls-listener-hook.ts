import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, type TLSSocket } from 'node:tls';
import { failureReason, type ListenerCounts } from './tls-listener-counts.js';

/**
 * Loaded into Switchyard's processes with `--import` (node:cluster workers inherit
 * it) by bench/proxy-tls, to count the TLS handshakes its listener accepted: every
 * `secureConnection` a tls.Server (https.Server is one) emits, whether the session
 * was resumed, and `tlsClientError`s. Each process writes its counters to
 * BENCH_TLS_COUNT_DIR/<pid>.json at most every 50 ms and at exit; the bench sums
 * the files. It adds one comparison per server event, none per request, and does
 * nothing without BENCH_TLS_COUNT_DIR.
 */
const dir = process.env.BENCH_TLS_COUNT_DIR;

if (dir !== undefined && dir !== '') {
  const counts: ListenerCounts = { handshakes: 0, resumed: 0, failed: 0, failedBy: {}, negotiated: '' };
  const file = join(dir, `${process.pid}.json`);
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    // Written aside and renamed: the bench never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(counts));
    renameSync(`${file}.tmp`, file);
  };
  const changed = () => {
    if (timer !== null) return;
    timer = setTimeout(flush, 50);
    timer.unref();
  };
  const emit = Server.prototype.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  Server.prototype.emit = function countingEmit(this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'secureConnection') {
      const socket = args[0] as TLSSocket;
      counts.handshakes++;
      if (socket.isSessionReused()) counts.resumed++;
      if (counts.negotiated === '') counts.negotiated = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.standardName ?? '?'}`;
      changed();
    } else if (event === 'tlsClientError') {
      counts.failed++;
      const why = failureReason(args[0]);
      counts.failedBy[why] = (counts.failedBy[why] ?? 0) + 1;
      changed();
    }
    return emit.call(this, event, ...args);
  };
  process.once('exit', flush);
}
