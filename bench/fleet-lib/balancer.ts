import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A replica behind the balancer: its proxy port and the readiness URL it is probed on. */
export interface Endpoint {
  readonly name: string;
  readonly proxyUrl: string;
  readonly readyUrl: string;
}

interface Member extends Endpoint {
  ready: boolean;
  readonly agent: Agent;
  readonly timer: NodeJS.Timeout;
}

/**
 * A round-robin front as a Kubernetes Service behaves: requests go only to
 * endpoints whose readiness probe passed last time it was asked, each request
 * to the next one in turn, never retried elsewhere. A new endpoint starts
 * unready, as a new pod does. Answers 502 when the chosen endpoint fails and
 * 503 when none is ready, counting both.
 */
export class Balancer {
  private readonly members = new Map<string, Member>();
  private readonly server: Server;
  private turn = 0;
  private readonly failures = new Map<string, number>();

  private constructor(private readonly probeMs: number) {
    this.server = createServer((req, res) => this.forward(req, res));
  }

  static async start(probeMs: number): Promise<{ balancer: Balancer; url: string }> {
    const balancer = new Balancer(probeMs);
    await new Promise<void>((resolve) => balancer.server.listen(0, '127.0.0.1', resolve));
    return { balancer, url: `http://127.0.0.1:${(balancer.server.address() as AddressInfo).port}` };
  }

  add(endpoint: Endpoint): void {
    const member: Member = { ...endpoint, ready: false, agent: new Agent({ keepAlive: true, maxSockets: 32 }), timer: setInterval(() => void this.probe(member), this.probeMs) };
    this.members.set(endpoint.name, member);
    void this.probe(member);
  }

  remove(name: string): void {
    const member = this.members.get(name);
    if (member === undefined) return;
    clearInterval(member.timer);
    member.agent.destroy();
    this.members.delete(name);
  }

  isReady(name: string): boolean {
    return this.members.get(name)?.ready ?? false;
  }

  /** Failed requests by cause, as the balancer saw them. */
  failuresSeen(): ReadonlyMap<string, number> {
    return new Map(this.failures);
  }

  async close(): Promise<void> {
    for (const name of [...this.members.keys()]) this.remove(name);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async probe(member: Member): Promise<void> {
    try {
      const res = await fetch(member.readyUrl, { signal: AbortSignal.timeout(this.probeMs) });
      await res.arrayBuffer();
      member.ready = res.ok;
    } catch {
      member.ready = false;
    }
  }

  private pick(): Member | null {
    const ready = [...this.members.values()].filter((m) => m.ready);
    if (ready.length === 0) return null;
    return ready[this.turn++ % ready.length] as Member;
  }

  private fail(res: ServerResponse, status: number, cause: string): void {
    this.failures.set(cause, (this.failures.get(cause) ?? 0) + 1);
    if (res.headersSent) res.destroy();
    else res.writeHead(status, { 'content-type': 'text/plain' }).end(`${cause}\n`);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const member = this.pick();
    if (member === null) {
      req.resume();
      this.fail(res, 503, 'no ready endpoint');
      return;
    }
    const target = new URL(member.proxyUrl);
    const headers = { ...req.headers };
    delete headers.connection;
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: member.agent }, (answer) => {
      const back = { ...answer.headers };
      delete back.connection;
      delete back['keep-alive'];
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
      answer.on('error', (err: NodeJS.ErrnoException) => this.fail(res, 502, `${member.name}: ${err.code ?? err.message} mid-answer`));
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => this.fail(res, 502, `${member.name}: ${err.code ?? err.message}`));
    req.pipe(upstream);
  }
}
