import { z } from 'zod';
import { opensEveryWeek, WEEKDAYS, type DailyPeriod, type ReleaseWindowPolicy, type Weekday } from '../core/release-window.js';
import { canonicalTimeZone } from '../core/zoned-time.js';

/**
 * A service's `releaseWindows` section: when promotions and weight increases may
 * happen. Absent: at any time.
 *
 *   releaseWindows:
 *     timeZone: Europe/Paris
 *     allow: [ { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" } ]
 *     block: [ { days: [fri], from: "12:00", to: "24:00" } ]
 */

const FULL_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const DAY_MESSAGE = `not a day of the week: use ${WEEKDAYS.join(', ')}`;

const day = z.string({ error: DAY_MESSAGE }).transform((text, ctx): Weekday => {
  const lower = text.trim().toLowerCase();
  const found = WEEKDAYS.find((d, i) => d === lower || FULL_NAMES[i] === lower);
  if (found === undefined) {
    ctx.addIssue({ code: 'custom', message: `${DAY_MESSAGE} (got ${JSON.stringify(text)})` });
    return z.NEVER;
  }
  return found;
});

/** `HH:MM` on a 24-hour clock, as minutes since midnight; `24:00` (end of the day) only where `allowEnd`. */
const clockTime = (allowEnd: boolean) => {
  const message = `not a time like 09:00 or 17:30 (24-hour HH:MM${allowEnd ? ', up to 24:00' : ', up to 23:59'})`;
  return z.string({ error: message }).transform((text, ctx) => {
    const match = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
    const minute = match === null ? NaN : Number(match[1]) * 60 + Number(match[2]);
    const valid = match !== null && Number(match[2]) < 60 && (minute < 1440 || (allowEnd && minute === 1440));
    if (!valid) {
      ctx.addIssue({ code: 'custom', message: `${message} (got ${JSON.stringify(text)})` });
      return z.NEVER;
    }
    return minute;
  });
};

const period = z
  .strictObject({
    days: z
      .array(day)
      .min(1, { error: 'give at least one day, or leave days out for every day' })
      .default([...WEEKDAYS])
      .transform((days) => WEEKDAYS.filter((d) => days.includes(d))),
    from: clockTime(false),
    to: clockTime(true),
  })
  .superRefine((p, ctx) => {
    if (p.from === p.to) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from "from"; a whole day is from "00:00" to "24:00"' });
    }
  })
  .transform((p): DailyPeriod => ({ days: p.days, fromMinute: p.from, toMinute: p.to }));

const timeZone = z
  .string({ error: (iss) => (iss.input === undefined ? 'required: an IANA time zone like Europe/Paris' : 'must be an IANA time zone like Europe/Paris') })
  .transform((text, ctx) => {
    const zone = canonicalTimeZone(text.trim());
    if (zone === null) {
      ctx.addIssue({ code: 'custom', message: `not a time zone this Node knows (got ${JSON.stringify(text)}); use an IANA name like Europe/Paris or UTC` });
      return z.NEVER;
    }
    return zone;
  });

export const releaseWindowsSchema = z
  .strictObject({
    timeZone,
    allow: z.array(period).min(1, { error: 'give at least one window, or leave allow out to allow every time outside block' }).optional(),
    block: z.array(period).default([]),
  })
  .superRefine((rw, ctx) => {
    if (rw.allow?.length === 0) return; // already reported on allow
    if (rw.allow === undefined && rw.block.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'give allow, block or both; to release at any time, leave releaseWindows out' });
    } else if (!opensEveryWeek({ allow: rw.allow ?? null, block: rw.block })) {
      ctx.addIssue({ code: 'custom', message: 'never open: the blocked periods cover every allowed window' });
    }
  })
  .transform((rw): ReleaseWindowPolicy => ({ timeZone: rw.timeZone, allow: rw.allow ?? null, block: rw.block }))
  .optional();

export type ReleaseWindowsConfig = z.output<typeof releaseWindowsSchema>;
