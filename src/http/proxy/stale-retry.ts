import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { StaleRetryReason } from '../../app/request-observer.js';

/**
 * Why an upstream request failed the way a stale keep-alive connection fails,
 * or null when it is a real failure. A server may close an idle connection at
 * the moment the gateway sends a request on it (uvicorn does after 5 s, without
 * a Keep-Alive hint): the request then meets a reset, a broken pipe or an
 * end of stream before any answer. Only a reused connection can be stale, and
 * only when not one byte of an answer came back on it for this request
 * (`bytesReadBefore` is what the socket had read when the request got it): a
 * server that had begun to answer is not retried.
 */
export function staleConnection(upstream: ClientRequest, socket: Socket | null, bytesReadBefore: number, err: NodeJS.ErrnoException): StaleRetryReason | null {
  if (!upstream.reusedSocket || socket === null || socket.bytesRead !== bytesReadBefore) return null;
  if (err.code === 'EPIPE') return 'epipe';
  if (err.code !== 'ECONNRESET') return null;
  // node:http's own error for a connection that ended before the answer began.
  return err.message === 'socket hang up' ? 'hangup' : 'reset';
}
