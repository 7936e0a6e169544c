import { gunzipSync, inflateSync } from 'node:zlib';
import protobuf from 'protobufjs';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../core/errors.js';

/** How an answer's first message reads as JSON: field names as the .proto writes them, 64-bit numbers as numbers, enums by name. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, bytes: String, defaults: true, arrays: true };

/**
 * Reads the answers of a `protocol: grpc` service with the `.proto` file its
 * config names (`grpc.proto`), so the prediction guardrail and the shadow's
 * prediction comparison can read a field of a protobuf answer as they read one
 * of a JSON answer: the first message of a unary call's answer, decoded with
 * its method's response type and written as JSON.
 */
export class AnswerDecoder {
  private readonly methods = new Map<string, protobuf.Method | null>();

  private constructor(private readonly root: protobuf.Root) {}

  /** Parses `file` (and its imports, relative to it); throws when it cannot be read or has unresolved types. */
  static load(file: string): AnswerDecoder {
    const root = new protobuf.Root();
    root.loadSync(file, { keepCase: true });
    root.resolveAll();
    return new AnswerDecoder(root);
  }

  /** Whether `path` (`/package.Service/Method`) is a method of the file whose answer is a single message. */
  unaryAnswer(path: string): boolean {
    const method = this.method(path);
    return method !== null && method.responseStream !== true;
  }

  /**
   * The first message of `body` (gRPC's framing: a compressed flag, a 4-byte
   * length, the message), inflated by `encoding` (gzip or deflate) when
   * flagged, decoded with the method's response type, as JSON text; null
   * when any of that fails.
   */
  firstMessageJson(path: string, body: Buffer, encoding: string | undefined): string | null {
    const type = this.method(path)?.resolvedResponseType ?? null;
    if (type === null || body.length < 5) return null;
    const length = body.readUInt32BE(1);
    if (body.length < 5 + length) return null;
    const compressed = body[0] === 1;
    if (compressed && encoding !== 'gzip' && encoding !== 'deflate') return null;
    try {
      let message = body.subarray(5, 5 + length);
      if (compressed) message = encoding === 'gzip' ? gunzipSync(message) : inflateSync(message);
      return JSON.stringify(type.toObject(type.decode(message), TO_OBJECT));
    } catch {
      return null;
    }
  }

  private method(path: string): protobuf.Method | null {
    let method = this.methods.get(path);
    if (method === undefined) {
      const [, service = '', name = ''] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
      const found = service === '' ? null : this.root.lookup(service);
      method = found instanceof protobuf.Service ? (found.methods[name] ?? null) : null;
      this.methods.set(path, method);
    }
    return method;
  }
}

/** The decoder of every service that names a `grpc.proto`, by service name, and a line for each file that cannot be read. */
export function loadAnswerDecoders(services: Config['services']): { decoders: ReadonlyMap<string, AnswerDecoder>; problems: string[] } {
  const decoders = new Map<string, AnswerDecoder>();
  const problems: string[] = [];
  for (const [name, service] of Object.entries(services)) {
    const file = service.grpc?.proto;
    if (file === undefined) continue;
    try {
      decoders.set(name, AnswerDecoder.load(file));
    } catch (err) {
      problems.push(`services.${name}.grpc.proto: ${file}: ${(err as Error).message}`);
    }
  }
  return { decoders, problems };
}

/** Refuses a config whose .proto files cannot be read, as a config error listing them under `source` (the config file's name). */
export function assertProtoFiles(config: Config, source: string): void {
  const { problems } = loadAnswerDecoders(config.services);
  if (problems.length > 0) throw new SwitchyardError('SY_ERR_CONFIG', `${source} is invalid:\n  ${problems.join('\n  ')}`, { problems });
}
