import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates, type ConnectionOptions, type SecureContext } from 'node:tls';
import type { ClientMaterial } from '../../tls/material.js';
import { H2Connection, type SessionCallback } from './h2-connection.js';

/** For an https:// target whose version has no TLS material (a feed without it): Node's roots, verified. */
export const SYSTEM_TRUST: ClientMaterial = { ca: [], cert: null, key: null, serverName: null, minVersion: 'TLSv1.2', verify: true };

/**
 * A version's TLS material and the context built from it, once, for all its
 * https:// targets. Extra CAs are trusted besides Node's roots, not instead of
 * them: a CA list given to OpenSSL replaces the default store.
 */
export class VersionTls {
  private built: SecureContext | null = null;

  constructor(readonly material: ClientMaterial) {}

  get context(): SecureContext {
    const { ca, cert, key, minVersion } = this.material;
    this.built ??= createSecureContext({ ca: ca.length > 0 ? [...rootCertificates, ...ca] : undefined, cert: cert ?? undefined, key: key ?? undefined, minVersion });
    return this.built;
  }
}

/** What every request to an https:// target carries, fixed for one material. */
interface TlsRequestOptions {
  readonly material: ClientMaterial;
  /** SNI and the name verified; '' for an IP, which is then verified against the certificate's IP names. */
  readonly servername: string;
  readonly rejectUnauthorized: boolean;
  readonly secureContext: SecureContext;
}

/**
 * The agent's `timeout` frees a keep-alive socket idle that long (a shorter
 * `Keep-Alive: timeout` hint from the server wins), so the gateway closes idle
 * connections before the server does: model servers such as uvicorn close them
 * after 5 s without saying so, and a request sent on one as it closes fails.
 * On a socket in use the timeout only emits an event no one listens to.
 */
const agentOptions = (idleMs: number) => ({ keepAlive: true, scheduling: 'lifo' as const, maxFreeSockets: 1024, timeout: idleMs });

/**
 * An agent whose material was replaced: its idle connections close now, those
 * in use once their answer ends, and its cached TLS sessions go with it (a
 * resumed session would show the server the old client certificate).
 */
function retire(agent: HttpAgent): void {
  agent.maxFreeSockets = 0;
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

/**
 * One origin of a version, `http://` or `https://`, with its keep-alive agent:
 * node:http's Agent, chosen over undici by bench/proxy-core (see bench/README.md,
 * "Why node:http for the upstream"). An https:// target's agent also caches TLS
 * sessions, so a new connection resumes one instead of a full handshake.
 */
export class Target {
  readonly origin: string;
  readonly hostname: string;
  readonly port: number;
  /** The Host header sent upstream. */
  readonly host: string;
  /** An https:// origin. */
  readonly secure: boolean;
  /** The socket event after which a new connection can carry the request: TCP's connect, or the end of the TLS handshake. */
  readonly readyEvent: 'connect' | 'secureConnect';
  private agent: HttpAgent;
  private tls: TlsRequestOptions | null = null;
  /** The HTTP/2 session of a `protocol: grpc` service's target, opened on first use. */
  private h2: H2Connection | null = null;
  private destroyed = false;

  /** `tls` is used by an https:// origin only. */
  constructor(
    origin: string,
    private readonly idleMs: number,
    tls: VersionTls,
  ) {
    const url = new URL(origin);
    this.origin = origin;
    this.hostname = url.hostname.replace(/^\[|\]$/g, '');
    this.host = url.host;
    this.secure = url.protocol === 'https:';
    this.port = Number(url.port || (this.secure ? 443 : 80));
    this.readyEvent = this.secure ? 'secureConnect' : 'connect';
    this.agent = this.secure ? new HttpsAgent(agentOptions(idleMs)) : new HttpAgent(agentOptions(idleMs));
    if (this.secure) this.tls = this.tlsOptions(tls);
  }

  /**
   * The one place a request to this target is opened, over http or https.
   * `fresh`: on a connection of its own, closed after the answer, never one of the pool's.
   */
  request(method: string | undefined, path: string | undefined, headers: string[], fresh: boolean): ClientRequest {
    const agent = fresh ? false : this.agent;
    const tls = this.tls;
    if (tls === null) return httpRequest({ host: this.hostname, port: this.port, method, path, agent, headers });
    const { servername, rejectUnauthorized, secureContext } = tls;
    // https.request hands its options on to tls.connect, secureContext included (@types/node leaves it out).
    const options: RequestOptions & ConnectionOptions = { host: this.hostname, port: this.port, method, path, agent, headers, servername, rejectUnauthorized, secureContext };
    return httpsRequest(options);
  }

  /**
   * The HTTP/2 session for a call to a `protocol: grpc` target (h2c for
   * http://, h2 with this target's TLS settings for https://), once it is
   * ready; see H2Connection.
   */
  h2Session(connectMs: number, callback: SessionCallback): void {
    this.h2 ??= new H2Connection(this.origin, this.idleMs, () => {
      const tls = this.tls;
      return tls === null ? null : { servername: tls.servername, rejectUnauthorized: tls.rejectUnauthorized, secureContext: tls.secureContext };
    });
    this.h2.open(connectMs, callback);
  }

  /** Whether an https:// target already connects with `material` (compared by value: a cluster worker gets copies). */
  uses(material: ClientMaterial): boolean {
    const current = this.tls?.material;
    return current === material || JSON.stringify(current) === JSON.stringify(material);
  }

  /**
   * New material for an https:// target: the next handshake uses it, on a new
   * agent (see `retire`); requests in flight finish on their connections.
   */
  useTls(tls: VersionTls): void {
    if (!this.secure || this.destroyed) return;
    retire(this.agent);
    this.h2?.retire();
    this.agent = new HttpsAgent(agentOptions(this.idleMs));
    this.tls = this.tlsOptions(tls);
  }

  destroy(): void {
    this.destroyed = true;
    this.agent.destroy();
    this.h2?.destroy();
  }

  private tlsOptions({ material, context }: VersionTls): TlsRequestOptions {
    // Never the client's Host: the configured name, else the target's own.
    const servername = material.serverName ?? (isIP(this.hostname) === 0 ? this.hostname : '');
    return { material, servername, rejectUnauthorized: material.verify, secureContext: context };
  }
}
