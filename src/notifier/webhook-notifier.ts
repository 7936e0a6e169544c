import type { Transition } from '../app/commands.js';
import type { Logger } from '../app/logger.js';
import type { Hold, RolloutState } from '../core/rollout-state.js';
import { holdPayload, releaseEvent, transitionPayload, type WebhookPayload } from './webhook-events.js';

export interface WebhookTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebhookOptions {
  readonly targets: readonly WebhookTarget[];
  readonly log: Logger;
  readonly attempts?: number;
  readonly firstDelayMs?: number;
  readonly timeoutMs?: number;
}

/**
 * Posts rollbacks, promotions, step changes, pauses, resumes and analysis holds
 * to the configured URLs (see webhook-events.ts). Runs beside the caller:
 * retried with exponential backoff, never awaited by the command or the
 * analysis loop that caused it.
 */
export class WebhookNotifier {
  constructor(private readonly o: WebhookOptions) {}

  /** An accepted transition, after the store wrote it. */
  notify(transition: Transition): void {
    const event = releaseEvent(transition);
    if (event !== null) this.post(transitionPayload(event, transition));
  }

  /** The analysis began holding `state`'s rollout; its end is not announced (the next transition is). */
  notifyHold(service: string, hold: Hold, state: RolloutState): void {
    this.post(holdPayload(service, hold, state));
  }

  private post(payload: WebhookPayload): void {
    const body = JSON.stringify(payload);
    for (const target of this.o.targets) void this.deliver(target, body, payload);
  }

  private async deliver(target: WebhookTarget, body: string, { event, service }: WebhookPayload): Promise<void> {
    const attempts = this.o.attempts ?? 5;
    let delayMs = this.o.firstDelayMs ?? 500;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let why: string;
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...target.headers },
          body,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000),
        });
        await res.arrayBuffer();
        if (res.ok) return;
        why = `HTTP ${res.status}`;
      } catch (err) {
        why = (err as Error).message;
      }
      this.o.log.warn({ url: target.url, event, service, attempt, attempts }, `webhook delivery failed: ${why}`);
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs *= 2;
    }
  }
}
