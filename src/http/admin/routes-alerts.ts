import { Router } from 'express';
import { z } from 'zod';
import { isSwitchyardError } from '../../core/errors.js';
import { callerOf } from './auth.js';
import { writeGuard } from './body.js';
import type { AdminDeps } from './deps.js';
import { parseInput } from './schemas.js';

/**
 * Switchyard's own alerts for people (config/prometheus/alerts.yml): a rollout
 * that waits for a decision, a certificate to renew. Rolling back would answer
 * them by machine, so they are never acted on here, even when Alertmanager's
 * routing sends them this way by mistake, or relabelling gave them a `service`.
 */
const NEEDS_A_PERSON: ReadonlyMap<string, string> = new Map([
  ['SwitchyardRolloutHeld', 'a held rollout waits for a person; an alert never rolls it back'],
  ['SwitchyardTlsCertExpiringSoon', 'a certificate to renew is for a person; it never rolls a release back'],
]);

/** Alertmanager groups many alerts in one post; room for a few hundred. */
const ALERT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Alertmanager's webhook payload, version 4; its other fields are accepted and ignored. */
const webhookBody = z.looseObject({
  version: z.literal('4', { error: 'must be "4" (Alertmanager webhook version 4)' }),
  status: z.enum(['firing', 'resolved']),
  alerts: z.array(
    z.looseObject({
      status: z.enum(['firing', 'resolved']),
      labels: z.record(z.string(), z.string()),
      annotations: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

type Outcome = 'rolled_back' | 'ignored' | 'unknown_service' | 'refused' | 'error';

interface AlertResult {
  readonly alert: string;
  readonly service: string | null;
  readonly outcome: Outcome;
  readonly detail: string;
}

/**
 * A firing alert labelled with a service rolls that service's rollout back, with
 * the alert name as the reason. Resolved alerts change nothing; unknown services
 * and services without a rollout are reported in the answer, not as errors, so
 * Alertmanager does not retry them forever.
 */
export function alertsRouter(deps: AdminDeps): Router {
  const router = Router();
  router.post('/alerts/alertmanager', ...writeGuard(ALERT_BODY_LIMIT_BYTES), async (req, res) => {
    const body = parseInput(webhookBody, req.body, 'body');
    const actor = callerOf(res).name;
    const results: AlertResult[] = [];
    for (const alert of body.alerts) {
      try {
        results.push(await handle(deps, alert, actor));
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        results.push({ alert: alert.labels.alertname ?? 'unnamed alert', service: alert.labels.service ?? null, outcome: 'error', detail });
      }
    }
    // Alertmanager retries a failed post; a repeated rollback is refused harmlessly, so a retry is safe.
    res.status(results.some((r) => r.outcome === 'error') ? 503 : 200).json({ results });
  });
  return router;
}

async function handle(
  deps: AdminDeps,
  alert: { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations?: Record<string, string> | undefined },
  actor: string,
): Promise<AlertResult> {
  const name = alert.labels.alertname ?? 'unnamed alert';
  const service = alert.labels.service ?? null;
  if (alert.status !== 'firing') return { alert: name, service, outcome: 'ignored', detail: 'resolved alerts change nothing' };
  if (service === null) return { alert: name, service, outcome: 'ignored', detail: 'no service label' };
  const forAPerson = NEEDS_A_PERSON.get(name);
  if (forAPerson !== undefined) return { alert: name, service, outcome: 'ignored', detail: forAPerson };
  if (!deps.catalog.names.includes(service)) {
    return { alert: name, service, outcome: 'unknown_service', detail: `no service named ${service} (services: ${deps.catalog.names.join(', ')})` };
  }
  const state = await deps.commands.state(service);
  const version = alert.labels.version;
  if (version !== undefined && version !== state.candidate) {
    return { alert: name, service, outcome: 'ignored', detail: `alert is about version ${version}, the candidate is ${state.candidate ?? 'none'}` };
  }
  const summary = alert.annotations?.summary;
  const reason = `alert ${name}${summary === undefined ? '' : `: ${summary}`}`;
  try {
    await deps.commands.run(service, { type: 'rollback' }, { actor, reason });
    deps.log.warn({ service, actor, alert: name }, 'rolled back on an alert');
    return { alert: name, service, outcome: 'rolled_back', detail: reason };
  } catch (err) {
    if (isSwitchyardError(err) && err.code === 'SY_ERR_ILLEGAL_TRANSITION') return { alert: name, service, outcome: 'refused', detail: err.message };
    throw err;
  }
}
