import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { ERRORS, type ErrorCode } from '../../core/errors.js';
import { encodeGrpcMessage, grpcCodeOfRefusal } from '../../core/grpc-status.js';
import { problem, PROBLEM_TYPE } from '../problem.js';
import type { Arrival } from '../proxy/arrival.js';
import type { ForwardContext } from '../proxy/forward.js';
import { REQUEST_ID_HEADER } from '../proxy/headers.js';
import type { Resolver } from '../proxy/resolve.js';
import { relayGrpc } from './grpc-call.js';

/** The HTTP/2 side of the proxy port: which streams it has open, and whether it is draining. */
export interface H2StreamsState {
  inFlight: number;
  readonly draining: () => boolean;
}

/**
 * An HTTP/2 server that never listens itself: the proxy port hands it the
 * connections that speak HTTP/2 (acceptHttp2). Each stream is routed like an
 * HTTP/1.1 request (`:path`, `:authority` as Host, the sticky and version
 * metadata) and relayed when its service speaks gRPC; anything else gets an
 * answer that says why, as a gRPC status to a gRPC client and a problem
 * document to any other.
 */
export function createH2Streams(resolver: Resolver, ctx: ForwardContext, arrival: Arrival, state: H2StreamsState): Http2Server {
  const server = createServer();
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    state.inFlight++;
    stream.once('close', () => state.inFlight--);
    stream.on('error', () => undefined);
    // While draining, each session ends after the streams it has (GOAWAY), so clients reconnect elsewhere.
    if (state.draining()) stream.session?.close();
    onStream(resolver, ctx, arrival, stream, headers);
  });
  return server;
}

function onStream(resolver: Resolver, ctx: ForwardContext, arrival: Arrival, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const socket = stream.session?.socket as Socket | undefined;
  if (socket === undefined) return;
  // Routing reads Host: HTTP/2 carries it as :authority.
  const authority = headers[':authority'];
  if (authority !== undefined) headers.host = authority;
  const head = { url: headers[':path'], headers };
  const requestId = resolver.requestId(head);
  const grpc = headers['content-type']?.startsWith('application/grpc') === true;
  const refuse = (code: ErrorCode, detail: string, service: string | null) => (grpc ? refuseCall(stream, code, detail, requestId) : refuseRequest(stream, code, detail, requestId, service));
  const refused = arrival.certRefusal(socket);
  if (refused !== null) {
    refuse('SY_ERR_CLIENT_CERT', refused, null);
    return;
  }
  const forwarded = arrival.forwardedOf(headers, socket);
  const routed = resolver.resolve(head, forwarded.scheme === 'https');
  if (!routed.ok) {
    refuse(routed.code, routed.detail, routed.service);
    return;
  }
  const { route } = routed;
  if (route.config.protocol !== 'grpc') {
    const detail = `service ${route.name} speaks HTTP/1.1 (protocol: http); call it over HTTP/1.1. HTTP/2 reaches services with protocol: grpc`;
    refuse('SY_ERR_HTTP_VERSION', detail, route.name);
    return;
  }
  if (!grpc) {
    refuse('SY_ERR_NOT_GRPC', `service ${route.name} speaks gRPC: send content-type application/grpc (got ${headers['content-type'] ?? 'none'})`, route.name);
    return;
  }
  const remote = socket.remoteAddress ?? '';
  relayGrpc(stream, headers, routed, requestId, { remote, scheme: forwarded.scheme, forwardedHost: forwarded.host ?? authority }, ctx);
}

/** A gRPC client's refusal: trailers-only, the status read from the problem's HTTP status, the message naming code, cause and request id. */
function refuseCall(stream: ServerHttp2Stream, code: ErrorCode, detail: string, requestId: string): void {
  if (stream.destroyed || stream.closed) return;
  const message = encodeGrpcMessage(`${code}: ${detail} (request id ${requestId})`);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpcCodeOfRefusal(ERRORS[code].status)), 'grpc-message': message, [REQUEST_ID_HEADER]: requestId }, { endStream: true });
  stream.resume();
}

/** Any other HTTP/2 client's refusal: the problem document an HTTP/1.1 client would get. */
function refuseRequest(stream: ServerHttp2Stream, code: ErrorCode, detail: string, requestId: string, service: string | null): void {
  if (stream.destroyed || stream.closed) return;
  const doc = problem(code, detail, { requestId, service, version: null });
  const body = JSON.stringify(doc);
  stream.respond({ ':status': doc.status, 'content-type': PROBLEM_TYPE, 'content-length': Buffer.byteLength(body), [REQUEST_ID_HEADER]: requestId });
  stream.end(body);
  stream.resume();
}
