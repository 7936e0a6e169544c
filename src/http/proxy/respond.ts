import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from '../../core/errors.js';
import { problem, PROBLEM_TYPE } from '../problem.js';
import { REQUEST_ID_HEADER, VERSION_HEADER } from './headers.js';

export function sendProblem(
  res: ServerResponse,
  code: ErrorCode,
  detail: string,
  requestId: string,
  service: string | null,
  version: string | null,
): void {
  const doc = problem(code, detail, { requestId, service, version });
  const body = JSON.stringify(doc);
  const headers: Record<string, string | number> = {
    'content-type': PROBLEM_TYPE,
    'content-length': Buffer.byteLength(body),
    [REQUEST_ID_HEADER]: requestId,
  };
  if (version !== null) headers[VERSION_HEADER] = version;
  res.writeHead(doc.status, headers);
  res.end(body);
}

export function writeRawProblem(socket: Socket, code: ErrorCode, detail: string, requestId: string): void {
  const doc = problem(code, detail, { requestId });
  const body = JSON.stringify(doc);
  socket.end(
    `HTTP/1.1 ${String(doc.status)} ${String(doc.title)}\r\nContent-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${REQUEST_ID_HEADER}: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}
