import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ERRORS } from '../../src/core/errors.js';
import {
  DEFAULT_FAILING_CODES,
  encodeGrpcMessage,
  formatGrpcTimeout,
  GRPC_CODES,
  GRPC_OK,
  GRPC_UNKNOWN,
  grpcCodeName,
  grpcCodeOfHttpStatus,
  grpcCodeOfRefusal,
  parseGrpcCode,
  parseGrpcTimeout,
  readGrpcStatus,
} from '../../src/core/grpc-status.js';

/** The codes by name, as gRPC's statuscodes.md numbers them. */
const CODE = Object.fromEntries(GRPC_CODES.map((name, i) => [name, i])) as Record<(typeof GRPC_CODES)[number], number>;

describe('the code table', () => {
  test('holds gRPC\'s seventeen codes at their documented numbers', () => {
    expect(GRPC_CODES).toHaveLength(17);
    expect(CODE).toMatchObject({ OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16 });
  });

  test('the default failing codes are the server\'s trouble, never an answer to a bad request', () => {
    expect([...DEFAULT_FAILING_CODES].sort()).toEqual(['DATA_LOSS', 'DEADLINE_EXCEEDED', 'INTERNAL', 'UNAVAILABLE', 'UNKNOWN']);
  });
});

describe('parseGrpcCode', () => {
  test.each([
    ['UNAVAILABLE', 14],
    ['unavailable', 14],
    ['Deadline_Exceeded', 4],
    [' ok ', 0],
    ['UNAUTHENTICATED', 16],
  ])('the name %j is code %i', (name, code) => {
    expect(parseGrpcCode(name)).toBe(code);
  });

  test('every name, in any case, gives its own number back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 16 }), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }), (code, upper) => {
        const name = [...GRPC_CODES[code]!].map((c, i) => (upper[i] === true ? c.toUpperCase() : c.toLowerCase())).join('');
        expect(parseGrpcCode(name)).toBe(code);
      }),
    );
  });

  test('a number is a code when it is a whole number 0..16', () => {
    for (let code = 0; code <= 16; code++) expect(parseGrpcCode(code)).toBe(code);
  });

  test.each([
    ['14', 14],
    [' 0 ', 0],
  ])('the quoted number %j, as YAML reads "14", is the code %d', (text, code) => {
    expect(parseGrpcCode(text)).toBe(code);
  });

  test.each([-1, 17, 99, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('the number %d is not a code', (value) => {
    expect(parseGrpcCode(value)).toBeNull();
  });

  test.each(['', 'OKAY', 'UNAVAILABLE_', 'CODE_14', 'deadline exceeded', 'deadline-exceeded', '17', '1.5', 'null'])('the text %j is not a code', (text) => {
    expect(parseGrpcCode(text)).toBeNull();
  });

  test('any text gives null or a code 0..16, never throws', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const code = parseGrpcCode(text);
        if (code !== null) expect(code >= 0 && code <= 16 && Number.isInteger(code)).toBe(true);
      }),
    );
  });
});

describe('grpcCodeName', () => {
  test('names every known code, and is the inverse of parseGrpcCode on them', () => {
    for (let code = 0; code <= 16; code++) expect(parseGrpcCode(grpcCodeName(code))).toBe(code);
    expect(grpcCodeName(14)).toBe('UNAVAILABLE');
  });

  test('a code outside the seventeen is CODE_<n>, so a label still says what came', () => {
    expect(grpcCodeName(17)).toBe('CODE_17');
    expect(grpcCodeName(999)).toBe('CODE_999');
    expect(grpcCodeName(-1)).toBe('CODE_-1');
  });
});

describe('readGrpcStatus', () => {
  test.each([
    ['0', 0],
    ['14', 14],
    ['4', 4],
  ])('the trailer %j is code %i', (value, code) => {
    expect(readGrpcStatus(value)).toBe(code);
  });

  test('reads the first of repeated values', () => {
    expect(readGrpcStatus(['13', '0'])).toBe(13);
  });

  test.each<[string, string | string[] | undefined]>([
    ['missing', undefined],
    ['empty', ''],
    ['an empty list', []],
    ['a name', 'UNAVAILABLE'],
    ['negative', '-1'],
    ['signed', '+1'],
    ['spaced', ' 1'],
    ['fractional', '1.0'],
    ['hexadecimal', '0x1'],
    ['too long', '1234'],
  ])('a %s status is UNKNOWN, the protocol\'s reading of a garbled one', (_what, value) => {
    expect(readGrpcStatus(value)).toBe(GRPC_UNKNOWN);
  });

  test('a number outside the seventeen is kept as sent (the metrics count it as OTHER)', () => {
    expect(readGrpcStatus('17')).toBe(17);
  });
});

describe('parseGrpcTimeout', () => {
  test.each([
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3_000],
    ['250m', 250],
    ['1500u', 1.5],
    ['2000000n', 2],
    ['0m', 0],
    ['99999999S', 99_999_999_000],
    ['00000001S', 1_000],
  ])('%j is %d ms', (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms);
  });

  test('reads the first of repeated values', () => {
    expect(parseGrpcTimeout(['5S', '1m'])).toBe(5_000);
  });

  test.each<[string, string | string[] | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['a number without a unit', '100'],
    ['a unit without a number', 'S'],
    ['nine digits', '123456789m'],
    ['an unknown unit', '5s'],
    ['milliseconds spelled out', '5ms'],
    ['a space', '5 S'],
    ['leading space', ' 5S'],
    ['a sign', '-5S'],
    ['a fraction', '1.5S'],
    ['an exponent', '1e3m'],
    ['two units', '1S1m'],
    ['an empty list', []],
  ])('%s is malformed: null', (_what, value) => {
    expect(parseGrpcTimeout(value)).toBeNull();
  });

  test('any number of up to 8 digits with any unit is that many units in milliseconds', () => {
    const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 } as const;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom('H', 'M', 'S', 'm', 'u', 'n'), (value, unit) => {
        expect(parseGrpcTimeout(`${value}${unit}`)).toBeCloseTo(value * unitMs[unit], 6);
      }),
    );
  });

  test('any text gives null or a non-negative number of milliseconds, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{1,10}[HMSmunhs]?$/)), (text) => {
        const ms = parseGrpcTimeout(text);
        if (ms !== null) expect(ms).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('formatGrpcTimeout', () => {
  test.each([
    [250, '250m'],
    [0.2, '1m'],
    [0, '1m'],
    [-50, '1m'],
    [1499.1, '1500m'],
    [99_999_999, '99999999m'],
    [100_000_000, '100000S'],
    [Number.POSITIVE_INFINITY, '99999999H'],
  ])('%d ms is %j', (ms, header) => {
    expect(formatGrpcTimeout(ms)).toBe(header);
  });

  test('is a valid header for any time up to the 8-digit cap, parses back to no less than it and at most one of its unit more, and at least 1 ms', () => {
    const unitMs = { H: 3_600_000, S: 1000, m: 1 } as const;
    const capMs = 99_999_999 * 3_600_000;
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 0, max: capMs, noNaN: true }), fc.integer({ min: 0, max: capMs })), (ms) => {
        const header = formatGrpcTimeout(ms);
        expect(header).toMatch(/^\d{1,8}[HSm]$/);
        const back = parseGrpcTimeout(header);
        expect(back).not.toBeNull();
        expect(back!).toBeGreaterThanOrEqual(Math.max(1, ms));
        expect(back! - Math.max(1, ms)).toBeLessThanOrEqual(unitMs[header.at(-1) as keyof typeof unitMs]);
      }),
    );
  });

  test('a time beyond what 8 digits of hours can say is capped, never a longer header', () => {
    expect(formatGrpcTimeout(1e20)).toBe('99999999H');
    expect(parseGrpcTimeout(formatGrpcTimeout(1e20))).toBe(99_999_999 * 3_600_000);
  });
});

describe('encodeGrpcMessage', () => {
  test('keeps printable ASCII but %', () => {
    const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    expect(encodeGrpcMessage(printable)).toBe(printable.replace('%', '%25'));
  });

  test.each([
    ['100%', '100%25'],
    ['café', 'caf%C3%A9'],
    ['line\nbreak', 'line%0Abreak'],
    ['tab\t', 'tab%09'],
    ['\u007f', '%7F'],
    ['模型', '%E6%A8%A1%E5%9E%8B'],
    ['🚀', '%F0%9F%9A%80'],
    ['', ''],
  ])('%j is sent as %j', (text, wire) => {
    expect(encodeGrpcMessage(text)).toBe(wire);
  });

  test('the wire form is printable ASCII, and decoding it gives the text back', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom('%', ' ', '\n', 'é', '%2', '%41'), fc.constantFrom(...'abc/-_:'), fc.string({ unit: 'grapheme', maxLength: 1 })) }), (text) => {
        const wire = encodeGrpcMessage(text);
        expect(wire).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeURIComponent(wire)).toBe(text);
      }),
    );
  });
});

describe('grpcCodeOfHttpStatus', () => {
  test.each([
    [400, 'INTERNAL'],
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'UNIMPLEMENTED'],
    [429, 'UNAVAILABLE'],
    [502, 'UNAVAILABLE'],
    [503, 'UNAVAILABLE'],
    [504, 'UNAVAILABLE'],
  ])('HTTP %i is %s, as gRPC\'s HTTP-to-status table says', (status, name) => {
    expect(grpcCodeName(grpcCodeOfHttpStatus(status))).toBe(name);
  });

  test('any other status is UNKNOWN, never OK (an HTTP answer is never a gRPC success)', () => {
    const mapped = new Set([400, 401, 403, 404, 429, 502, 503, 504]);
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }).filter((s) => !mapped.has(s)), (status) => {
        expect(grpcCodeOfHttpStatus(status)).toBe(GRPC_UNKNOWN);
      }),
    );
    expect(grpcCodeOfHttpStatus(200)).toBe(GRPC_UNKNOWN);
    expect(grpcCodeOfHttpStatus(500)).toBe(GRPC_UNKNOWN);
  });
});

describe('grpcCodeOfRefusal', () => {
  test.each([
    ['SY_ERR_NO_ROUTE', 'UNIMPLEMENTED'],
    ['SY_ERR_UNKNOWN_VERSION', 'INVALID_ARGUMENT'],
    ['SY_ERR_PATH_TRAVERSAL', 'INVALID_ARGUMENT'],
    ['SY_ERR_BAD_TARGET', 'INVALID_ARGUMENT'],
    ['SY_ERR_CLIENT_CERT', 'PERMISSION_DENIED'],
    ['SY_ERR_PAYLOAD_TOO_LARGE', 'RESOURCE_EXHAUSTED'],
    ['SY_ERR_HEADERS_TOO_LARGE', 'RESOURCE_EXHAUSTED'],
    ['SY_ERR_REQUEST_TIMEOUT', 'DEADLINE_EXCEEDED'],
    ['SY_ERR_UPSTREAM_TIMEOUT', 'DEADLINE_EXCEEDED'],
    ['SY_ERR_HTTP_VERSION', 'UNIMPLEMENTED'],
    ['SY_ERR_UPSTREAM_CONNECT', 'UNAVAILABLE'],
    ['SY_ERR_UPSTREAM_TLS', 'UNAVAILABLE'],
    ['SY_ERR_STORE_UNAVAILABLE', 'UNAVAILABLE'],
    ['SY_ERR_INTERNAL', 'UNAVAILABLE'],
  ] as const)('a %s refusal is %s', (code, name) => {
    expect(grpcCodeName(grpcCodeOfRefusal(ERRORS[code].status))).toBe(name);
  });

  test('the gateway\'s unauthenticated refusal keeps its meaning', () => {
    expect(grpcCodeOfRefusal(401)).toBe(CODE.UNAUTHENTICATED);
  });

  test('no refusal of any error code is OK, and every one is a known code', () => {
    for (const { status } of Object.values(ERRORS)) {
      const code = grpcCodeOfRefusal(status);
      expect(code).not.toBe(GRPC_OK);
      expect(code >= 0 && code <= 16).toBe(true);
    }
  });

  test('any other 5xx is UNAVAILABLE and any other 4xx UNKNOWN', () => {
    const mapped = new Set([400, 401, 403, 404, 408, 413, 431, 504, 505]);
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 599 }).filter((s) => !mapped.has(s)), (status) => {
        expect(grpcCodeOfRefusal(status)).toBe(status >= 500 ? CODE.UNAVAILABLE : GRPC_UNKNOWN);
      }),
    );
  });
});
