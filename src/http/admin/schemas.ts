import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import { SwitchyardError } from '../../core/errors.js';
import { isShadowStep, STRATEGIES, type Step } from '../../core/rollout-state.js';
import { isValidPercent, percentToBp } from '../../core/weight.js';

/**
 * Request schemas of the admin API. Objects are strict (an unknown field is a
 * 400, not silently dropped) and every message names the field it is about.
 */

const WEIGHT = 'must be a percent 0..100 with at most two decimals';
const DURATION = 'must be a duration like 500ms, 30s, 5m, 1h or 7d';
export const MAX_AUDIT_LIMIT = 500;
export const DEFAULT_AUDIT_LIMIT = 50;
const MAX_KEY_LENGTH = 256;
const MAX_REASON_LENGTH = 1000;

const required = (message: string) => (iss: { input?: unknown }) => (iss.input === undefined ? 'required' : message);

const percent = z.number({ error: required(WEIGHT) }).refine(isValidPercent, { error: WEIGHT });

const duration = (message = DURATION) =>
  z.string({ error: required(message) }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `${message} (got ${JSON.stringify(text.slice(0, 40))})` });
      return z.NEVER;
    }
    return ms;
  });

const versionName = z.string({ error: required('must be a version name') }).min(1, { error: 'must not be empty' }).max(63);

const reasonText = z
  .string({ error: required('must be a string') })
  .trim()
  .min(1, { error: 'must not be empty: say why, it goes to the audit log' })
  .max(MAX_REASON_LENGTH, { error: `at most ${MAX_REASON_LENGTH} characters` });

const optionalReason = reasonText.nullish();

const SHADOW = 'must be a percent more than 0, at most 100, with at most two decimals';

/** A share of sticky keys mirrored to a shadow: 0.01..100. */
const shadowPercent = z.number({ error: required(SHADOW) }).refine((p) => isValidPercent(p) && p > 0, { error: SHADOW });

/** `{weight, bake}` gives the candidate live traffic; `{shadow, bake}` only mirrors traffic to it. */
const step = z
  .strictObject({ weight: percent.optional(), shadow: shadowPercent.optional(), bake: duration().prefault('1m') })
  .superRefine((s, ctx) => {
    if (s.weight === undefined && s.shadow === undefined) ctx.addIssue({ code: 'custom', path: ['weight'], message: 'give weight (live traffic) or shadow (mirrored traffic)' });
    if (s.weight !== undefined && s.shadow !== undefined) ctx.addIssue({ code: 'custom', path: ['shadow'], message: 'a step is either {weight, bake} or {shadow, bake}, not both' });
  })
  .transform((s): Step => (s.shadow === undefined ? { weightBp: percentToBp(s.weight ?? 0), bakeMs: s.bake } : { weightBp: 0, bakeMs: s.bake, shadowBp: percentToBp(s.shadow) }));

const steps = z
  .array(step)
  .min(1, { error: 'give at least one step' })
  .max(100, { error: 'at most 100 steps' })
  .superRefine((list, ctx) => {
    list.forEach((s, i) => {
      const before = list[i - 1];
      if (isShadowStep(s) && before !== undefined && !isShadowStep(before)) {
        ctx.addIssue({ code: 'custom', path: [i, 'shadow'], message: 'shadow steps come before the first weighted step' });
      } else if (before !== undefined && s.weightBp < before.weightBp) {
        ctx.addIssue({ code: 'custom', path: [i, 'weight'], message: 'step weights must not decrease' });
      }
    });
    if (isShadowStep(list.at(-1))) ctx.addIssue({ code: 'custom', message: 'a weighted step must follow the shadow steps' });
  });

/** `force: true` releases outside the release windows; the audit log must say why. */
const force = z.boolean({ error: 'must be true or false' }).optional();

const FORCE_NEEDS_REASON = 'required when force is true: say why the release window is overridden, it goes to the audit log';

/** A command body: its own fields, an optional `force`, and a reason whenever force is true. */
function commandBody<T extends z.core.$ZodLooseShape & { reason: z.ZodType<string | null | undefined> }>(shape: T) {
  return z.strictObject({ ...shape, force }).superRefine((body, ctx) => {
    const { force: forced, reason } = body as { force?: boolean; reason?: string | null };
    if (forced === true && (reason === undefined || reason === null)) ctx.addIssue({ code: 'custom', path: ['reason'], message: FORCE_NEEDS_REASON });
  });
}

export const startBody = commandBody({
  candidate: versionName,
  strategy: z.enum(STRATEGIES, { error: `must be one of ${STRATEGIES.join(', ')}` }).optional(),
  steps: steps.optional(),
  // A manual canary at this weight; whether it may go with steps or a strategy is the core's call.
  weight: percent.transform(percentToBp).optional(),
  salt: z.string().min(1, { error: 'must not be empty' }).max(128, { error: 'at most 128 characters' }).optional(),
  reason: optionalReason,
});

export const weightBody = commandBody({ weight: percent.transform(percentToBp), reason: optionalReason });

export const reasonBody = commandBody({ reason: optionalReason });

export const shadowBody = commandBody({ version: versionName, percent: shadowPercent.transform(percentToBp), reason: optionalReason });

export const rollbackBody = commandBody({ reason: reasonText });

export const overrideBody = z.strictObject({
  version: versionName,
  reason: reasonText,
  // The default and the cap are the override policy's (config `overrides`), applied by RolloutCommands.
  ttl: duration()
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

/** `steps[0].weight` from zod's path array, like the config loader's messages. */
function formatPath(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out || root;
}

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

type Where = 'body' | 'query' | 'path';

function fieldProblems(issues: readonly z.core.$ZodIssue[], where: Where): FieldProblem[] {
  return issues.flatMap((issue): FieldProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const what = where === 'query' ? 'unknown query parameter' : 'unknown field';
      return issue.keys.map((key) => ({ field: formatPath([...issue.path, key], where), message: what }));
    }
    if (issue.code === 'invalid_type' && issue.path.length === 0) {
      return [{ field: where, message: `must be a JSON object` }];
    }
    return [{ field: formatPath(issue.path, where), message: issue.message }];
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
  const errors = fieldProblems(result.error.issues, where);
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
