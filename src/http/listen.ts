import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The causes an operator meets, in words; any other error keeps Node's message. */
const CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * A listener that could not bind. Its message is the one line `serve` prints
 * before it exits: the address, the config field it came from and the cause.
 */
export class ListenError extends Error {
  constructor(address: string, field: string, cause: NodeJS.ErrnoException) {
    super(`cannot listen on ${address} (${field}): ${CAUSES[cause.code ?? ''] ?? cause.message}`, { cause });
    this.name = 'ListenError';
  }
}

/**
 * Listens and answers the URL clients use (a wildcard address is shown as
 * loopback; `https://` when `secure`, the server being a TLS one). `field`
 * names the config field the address came from, for the ListenError thrown
 * when the address cannot be bound.
 */
export async function listen(server: Server, host: string, port: number, field: string, secure = false): Promise<string> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new ListenError(`${host.includes(':') ? `[${host}]` : host}:${port}`, field, err as NodeJS.ErrnoException);
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${secure ? 'https' : 'http'}://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${address.port}`;
}
