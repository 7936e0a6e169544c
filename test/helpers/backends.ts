import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface TestBackend {
  readonly url: string;
  readonly port: number;
  readonly seen: Seen[];
  /** Requests whose client went away before the answer. */
  aborted: number;
  close(): Promise<void>;
}

async function serve(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

/**
 * A backend that records what it received and answers with its name:
 * `/sse` streams three events 150 ms apart, `/hang` never answers,
 * anything else answers JSON at once. WebSocket upgrades echo.
 */
export async function startBackend(name: string): Promise<TestBackend> {
  const seen: Seen[] = [];
  const backend = { seen, aborted: 0 } as { seen: Seen[]; aborted: number; url: string; port: number; close(): Promise<void> };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/fraud/hang') {
        res.on('close', () => backend.aborted++);
        return;
      }
      if (req.url === '/fraud/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const tick = setInterval(() => {
          res.write(`data: event ${n} from ${name}\n\n`);
          if (++n === 3) {
            clearInterval(tick);
            res.end();
          }
        }, 150);
        res.on('close', () => clearInterval(tick));
        return;
      }
      const text = JSON.stringify({ backend: name, body });
      res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': 'timeout=99', 'x-backend': name, 'set-cookie': 'b=1' });
      res.end(text);
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`${name}:${data.toString()}`)));
  backend.port = await serve(server);
  backend.url = `http://127.0.0.1:${backend.port}`;
  const close = closer(server);
  backend.close = async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    await close();
  };
  return backend;
}

export interface IdleClosingBackend {
  readonly url: string;
  /** Connections the backend closed because they were idle. */
  closedIdle: number;
  close(): Promise<void>;
}

/**
 * A model server that closes idle keep-alive connections the way uvicorn does:
 * its answers carry no Keep-Alive hint, and a connection is destroyed
 * `idleCloseMs` after its last answer ended, whatever is on its way to it.
 * Answers `{backend, body}` once the whole body is in.
 */
export async function startIdleClosingBackend(name: string, idleCloseMs: number): Promise<IdleClosingBackend> {
  const backend = { closedIdle: 0 } as IdleClosingBackend;
  const idleTimers = new Map<Socket, NodeJS.Timeout>();
  const server = createServer((req, res) => {
    clearTimeout(idleTimers.get(req.socket));
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: name, body }));
    });
    res.on('finish', () => {
      const socket = req.socket;
      const timer = setTimeout(() => {
        backend.closedIdle++;
        socket.destroy();
      }, idleCloseMs);
      idleTimers.set(socket, timer);
    });
  });
  // 0: node's own idle timer is off, and with it the `Keep-Alive: timeout` hint a client would honour.
  server.keepAliveTimeout = 0;
  server.on('connection', (socket: Socket) => {
    socket.once('close', () => {
      clearTimeout(idleTimers.get(socket));
      idleTimers.delete(socket);
    });
  });
  const port = await serve(server);
  const close = closer(server);
  return Object.assign(backend, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const timer of idleTimers.values()) clearTimeout(timer);
      await close();
    },
  });
}

/** A port with nothing listening on it (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  const port = await serve(server);
  await closer(server)();
  return port;
}
