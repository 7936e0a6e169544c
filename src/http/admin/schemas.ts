import { z } from 'zod';
import { knownKeysAt } from '../../config/known-keys.js';
import { checkPlan, durationMs, required, shadowPercent, stepSchema, stepsParsed, weightPercent } from '../../config/plan-schema.js';
import { SwitchyardError } from '../../core/errors.js';
import { formatFieldPath } from '../../core/field-path.js';
import { didYouMean } from '../../core/nearest-name.js';
import { toStep } from '../../core/plan.js';
import { FORCE_NEEDS_REASON, forceLacksReason } from '../../core/release-window.js';
import { STRATEGIES } from '../../core/rollout-state.js';
import { percentToBp } from '../../core/weight.js';

/**
 * Request schemas of the admin API. Objects are strict (an unknown field is a
 * 400, not silently dropped) and every message names the field it is about.
 */

export const MAX_AUDIT_LIMIT = 500;
export const DEFAULT_AUDIT_LIMIT = 50;
const MAX_KEY_LENGTH = 256;
const MAX_REASON_LENGTH = 1000;

const versionName = z.string({ error: required('must be a version name') }).min(1, { error: 'must not be empty' }).max(63);

const reasonText = z
  .string({ error: required('must be a string') })
  .trim()
  .min(1, { error: 'must not be empty: say why, it goes to the audit log' })
  .max(MAX_REASON_LENGTH, { error: `at most ${MAX_REASON_LENGTH} characters` });

const optionalReason = reasonText.nullish();

/** `force: true` releases outside the release windows; the audit log must say why. */
const force = z.boolean({ error: 'must be true or false' }).optional();

/** A command body: its own fields, an optional `force`, and a reason whenever force is true. */
function commandBody<T extends z.core.$ZodLooseShape & { reason: z.ZodType<string | null | undefined> }>(shape: T) {
  return z.strictObject({ ...shape, force }).superRefine((body, ctx) => {
    const { force: forced, reason } = body as { force?: boolean; reason?: string | null };
    if (forceLacksReason(forced, reason)) ctx.addIssue({ code: 'custom', path: ['reason'], message: FORCE_NEEDS_REASON });
  });
}

/** A start: its steps, when given, are checked by the plan's rules, which name the step and field. */
export const startBody = commandBody({
  candidate: versionName,
  strategy: z.enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` }).optional(),
  steps: z.array(stepSchema).optional(),
  // A manual canary at this weight; whether it may go with steps or a strategy is the core's call.
  weight: weightPercent.transform(percentToBp).optional(),
  salt: z.string().min(1, { error: 'must not be empty' }).max(128, { error: 'at most 128 characters' }).optional(),
  reason: optionalReason,
})
  .superRefine(checkPlan('command'), { when: stepsParsed })
  .transform(({ steps, ...rest }) => ({ ...rest, ...(steps === undefined ? {} : { steps: steps.map(toStep) }) }));

export const weightBody = commandBody({ weight: weightPercent.transform(percentToBp), reason: optionalReason });

export const reasonBody = commandBody({ reason: optionalReason });

export const shadowBody = commandBody({ version: versionName, percent: shadowPercent.transform(percentToBp), reason: optionalReason });

export const rollbackBody = commandBody({ reason: reasonText });

export const overrideBody = z.strictObject({
  version: versionName,
  reason: reasonText,
  // The default and the cap are the override policy's (config `overrides`), applied by RolloutCommands.
  ttl: durationMs
    .refine((ms) => ms > 0, { error: 'must be longer than 0' })
    .optional(),
});

const overrideKey = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(MAX_KEY_LENGTH, { error: `at most ${MAX_KEY_LENGTH} characters` });

export const overrideParams = z.object({ key: overrideKey });

export const assignmentQuery = z.strictObject({
  key: z.string({ error: required('must be given once, as text') }).pipe(overrideKey),
  version: z.string({ error: 'must be given once, as text' }).min(1, { error: 'must not be empty' }).optional(),
});

const LIMIT = `must be a whole number 1..${MAX_AUDIT_LIMIT}`;

export const auditQuery = z.strictObject({
  service: z.string({ error: 'must be given once, as text' }).min(1, { error: 'must not be empty' }).optional(),
  limit: z
    .string({ error: LIMIT })
    .regex(/^\d{1,6}$/, { error: LIMIT })
    .transform(Number)
    .pipe(z.number().int().min(1, { error: LIMIT }).max(MAX_AUDIT_LIMIT, { error: LIMIT }))
    .default(DEFAULT_AUDIT_LIMIT),
  before: z.string({ error: 'must be given once, as text' }).regex(/^\d{1,16}-\d{1,16}$/, { error: 'must be an audit entry id like 1718000000000-0' }).optional(),
});

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

type Where = 'body' | 'query' | 'path';

/** Each problem with its field, like the config loader's; an unknown field names the nearest known one when one is close. */
function fieldProblems(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], where: Where): FieldProblem[] {
  return issues.flatMap((issue): FieldProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const what = where === 'query' ? 'unknown query parameter' : 'unknown field';
      const known = knownKeysAt(schema, issue.path);
      return issue.keys.map((key) => ({ field: formatFieldPath([...issue.path, key], where), message: `${what}${didYouMean(key, known)}` }));
    }
    if (issue.code === 'invalid_type' && issue.path.length === 0) {
      return [{ field: where, message: `must be a JSON object` }];
    }
    return [{ field: formatFieldPath(issue.path, where), message: issue.message }];
  });
}

/** Fallback wording for issues a schema did not word itself. */
function defaultMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'required';
  return `must be ${issue.expected === 'string' ? 'text' : `a ${issue.expected}`}`;
}

/** Validates a body or query; a 400 lists every problem, each naming its field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: Where): z.output<S> {
  const result = schema.safeParse(input ?? {}, { error: defaultMessage });
  if (result.success) return result.data;
  const errors = fieldProblems(schema, result.error.issues, where);
  throw new SwitchyardError('SY_ERR_VALIDATION', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

const IF_MATCH = /^(?:"(\d{1,15})"|(\d{1,15}))$/;

/** `If-Match: 12` or `If-Match: "12"` (an ETag as we send it); `*` asks for no check. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '*') return undefined;
  const match = IF_MATCH.exec(text);
  if (match === null) {
    const message = `must be a revision like 12 or "12" (got ${JSON.stringify(text.slice(0, 40))})`;
    throw new SwitchyardError('SY_ERR_VALIDATION', `If-Match: ${message}`, { errors: [{ field: 'If-Match', message }] });
  }
  return Number(match[1] ?? match[2]);
}

export function etag(revision: number): string {
  return `"${revision}"`;
}
