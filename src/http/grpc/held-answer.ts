import { violation, type GuardrailRule } from '../../core/guardrail.js';
import type { AnswerDecoder } from '../../grpc-proto/answer-decoder.js';

/**
 * A unary answer held back until it is complete (up to the guardrail's
 * `maxBodyBytes`), so its message can be judged before the client sees any
 * of it; one over the cap is let go and streams through unjudged, as an HTTP
 * answer over the cap does.
 */
export class HeldAnswer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly capBytes: number) {}

  /** Keeps `chunk`; false when the answer went over the cap, and what was kept must go on now (`release`). */
  keep(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this.size <= this.capBytes;
  }

  /** Everything kept, in order, handed over once. */
  release(): Buffer[] {
    const chunks = this.chunks;
    this.chunks = [];
    return chunks;
  }
}

/**
 * Why the answer `body` (gRPC-framed, `encoding` its grpc-encoding) breaks
 * `rule`, read with the service's .proto; null when it keeps to it. An answer
 * the .proto cannot decode breaks it, as an HTTP answer that is not JSON does.
 */
export function grpcViolation(answers: AnswerDecoder, path: string, body: Buffer, encoding: string | undefined, rule: GuardrailRule): string | null {
  const json = answers.firstMessageJson(path, body, encoding);
  return json === null ? 'answer is not a message of the method in grpc.proto' : violation(json, rule);
}
