import type { Transition } from '../app/commands.js';
import type { Logger } from '../app/logger.js';

export interface WebhookTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type ReleaseEvent = 'rollback' | 'promotion' | 'step';

export interface WebhookOptions {
  readonly targets: readonly WebhookTarget[];
  readonly log: Logger;
  readonly attempts?: number;
  readonly firstDelayMs?: number;
  readonly timeoutMs?: number;
}

/** Which transitions are announced, and as what. */
export function releaseEvent(transition: Transition): ReleaseEvent | null {
  switch (transition.action) {
    case 'rollback':
      return 'rollback';
    case 'promote':
      return 'promotion';
    case 'advance':
      return transition.after.phase === 'promoted' ? 'promotion' : 'step';
    default:
      return null;
  }
}

/**
 * Posts rollbacks, promotions and step changes to the configured URLs. Runs
 * beside the caller: retried with exponential backoff, never awaited by the
 * command or the analysis loop that caused it.
 */
export class WebhookNotifier {
  constructor(private readonly o: WebhookOptions) {}

  notify(transition: Transition): void {
    const event = releaseEvent(transition);
    if (event === null) return;
    const { after } = transition;
    const body = JSON.stringify({
      event,
      service: transition.service,
      actor: transition.actor,
      reason: transition.reason,
      at: new Date(after.updatedAt).toISOString(),
      stable: after.stable,
      candidate: after.candidate ?? transition.before.candidate,
      weight: after.weightBp / 100,
      step: after.stepIndex,
      phase: after.phase,
      revision: after.revision,
      verdict: transition.verdict,
    });
    for (const target of this.o.targets) void this.deliver(target, body, event, transition.service);
  }

  private async deliver(target: WebhookTarget, body: string, event: ReleaseEvent, service: string): Promise<void> {
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
