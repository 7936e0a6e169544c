import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { KSERVE_PROTO_PATH } from '../../src/demo/kserve-proto.js';
import { AnswerDecoder } from '../../src/grpc-proto/answer-decoder.js';

const INFER = '/inference.GRPCInferenceService/ModelInfer';
const decoder = AnswerDecoder.load(KSERVE_PROTO_PATH);
const root = new protobuf.Root().loadSync(KSERVE_PROTO_PATH, { keepCase: true });
const Response = root.lookupType('inference.ModelInferResponse');

/** One gRPC frame: the compressed flag, the length, the message. */
function frame(message: Uint8Array, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const answer = Response.encode(Response.fromObject({ model_name: 'fraud', model_version: 'v2', outputs: [{ name: 'score', datatype: 'FP32', shape: [1], contents: { fp32_contents: [0.5] } }] })).finish();

describe('AnswerDecoder with the KServe v2 proto', () => {
  it('reads the first message of a unary answer as JSON with the .proto field names', () => {
    const json = JSON.parse(decoder.firstMessageJson(INFER, frame(answer), undefined) ?? 'null');
    expect(json).toMatchObject({ model_name: 'fraud', model_version: 'v2', outputs: [{ name: 'score', shape: [1], contents: { fp32_contents: [0.5] } }] });
  });

  it('inflates a gzip-compressed message, and reads only the first of several', () => {
    const body = Buffer.concat([frame(gzipSync(answer), true), frame(Buffer.from([0xff, 0xff]))]);
    expect(JSON.parse(decoder.firstMessageJson(INFER, body, 'gzip') ?? 'null')).toMatchObject({ model_name: 'fraud' });
  });

  it.each([
    ['a truncated frame', INFER, frame(answer).subarray(0, 10), undefined],
    ['a compressed message without its encoding', INFER, frame(gzipSync(answer), true), undefined],
    ['bytes that are no message of the type', INFER, frame(Buffer.from([0x0a, 0xff, 0xff, 0xff])), undefined],
    ['a method the file does not have', '/inference.GRPCInferenceService/Nope', frame(answer), undefined],
    ['a path that is no gRPC method', '/fraud/score', frame(answer), undefined],
  ])('gives null for %s', (_what, path, body, encoding) => {
    expect(decoder.firstMessageJson(path, body, encoding)).toBeNull();
  });

  it('tells unary answers from streamed ones', () => {
    expect(decoder.unaryAnswer(INFER)).toBe(true);
    expect(decoder.unaryAnswer('/inference.GRPCInferenceService/ModelStreamInfer')).toBe(false);
    expect(decoder.unaryAnswer('/inference.GRPCInferenceService/Nope')).toBe(false);
  });

  it('refuses a file that cannot be read', () => {
    expect(() => AnswerDecoder.load('/nonexistent/model.proto')).toThrow(/nonexistent/);
  });
});
