import type { AuditAction, NewAuditEntry } from '../core/audit.js';
import { SwitchyardError } from '../core/errors.js';
import type { Override } from '../core/override.js';
import { decideRelease, FORCE_NEEDS_REASON, forceLacksReason, forcedReason } from '../core/release-window.js';
import { initialState, type RolloutState, type Verdict } from '../core/rollout-state.js';
import { transition, type CommandType, type Refusal, type RolloutCommand } from '../core/transition.js';
import type { ServiceCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { Store } from './store.js';

export interface CommandOptions {
  /** Who asks: a token name, `analysis`, `alertmanager`. */
  readonly actor: string;
  readonly reason?: string | null;
  /** The revision the caller saw; a mismatch is refused instead of retried. */
  readonly ifMatch?: number;
  /** The analysis verdict behind the command, kept in its audit entry and announced with it. */
  readonly verdict?: Verdict;
  /** The control rule the caller applied (the analysis names its own); a rule of the transition itself comes first. */
  readonly rule?: string;
  /** Release outside the service's release windows; needs a reason, audited as forced. */
  readonly force?: boolean;
}

/** An accepted, stored transition: what metrics and notifications hear, only after the write. */
export interface Transition {
  readonly service: string;
  readonly action: CommandType;
  readonly actor: string;
  readonly reason: string | null;
  readonly before: RolloutState;
  readonly after: RolloutState;
  /** The control rule applied (src/core/control-rules.ts), if any. */
  readonly rule: string | null;
  /** The analysis verdict behind it, if the analysis made it. */
  readonly verdict: Verdict | null;
}

export interface OverrideInput {
  readonly version: string;
  readonly reason: string;
  /** How long the pin lasts; the policy's default when absent. */
  readonly ttlMs?: number;
}

/** Overrides are debt: every pin expires, by default in a week, never later than the cap. */
export interface OverridePolicy {
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
}

const DAY_MS = 86_400_000;
export const DEFAULT_OVERRIDE_POLICY: OverridePolicy = { defaultTtlMs: 7 * DAY_MS, maxTtlMs: 30 * DAY_MS };

/** Attempts for a write without If-Match when another writer got in between. */
const CAS_ATTEMPTS = 8;

/**
 * The one home of operator actions: the admin API, the CLI (through the API),
 * the console, the analysis loop and the alert webhook all call these.
 */
export class RolloutCommands {
  private readonly listeners = new Set<(transition: Transition) => void>();

  constructor(
    private readonly store: Store,
    private readonly catalog: ServiceCatalog,
    private readonly clock: Clock,
    private readonly overridePolicy: OverridePolicy = DEFAULT_OVERRIDE_POLICY,
  ) {}

  /** Hears every transition this replica wrote, after the store accepted it. */
  onTransition(listener: (transition: Transition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The configured initial rollout (and standing shadow) of every service: what a replica routes on before it knows better. */
  initialStates(): RolloutState[] {
    const now = this.clock.now();
    return this.catalog.names.map((service) => {
      const { rollout, shadow } = this.catalog.get(service);
      const standing = shadow.version === null ? null : { version: shadow.version, sampleBp: shadow.sampleBp };
      return initialState({ service, stable: rollout.stable, strategy: rollout.strategy, steps: rollout.steps, now, shadow: standing });
    });
  }

  /**
   * Writes the configured initial rollout of every service whose state the store
   * does not have yet; live state is never overwritten. The gateway leaves this to
   * its routing table (RoutingTable.start), which also starts with the store unreachable.
   */
  async seed(): Promise<RolloutState[]> {
    const seeded: RolloutState[] = [];
    for (const state of this.initialStates()) seeded.push(await this.store.initState(state, seedAudit(state, this.clock.now())));
    return seeded;
  }

  async state(service: string): Promise<RolloutState> {
    this.catalog.get(service);
    const state = await this.store.getState(service);
    if (state === null) throw new SwitchyardError('SY_ERR_NOT_FOUND', `service ${service} has no rollout state yet; the gateway writes it at start`);
    return state;
  }

  /**
   * Applies one command with compare-and-set; retries on a concurrent write unless
   * the caller pinned a revision. Outside the service's release windows a command
   * that gives the candidate traffic is refused (409) unless forced with a reason.
   */
  async run(service: string, command: RolloutCommand, options: CommandOptions): Promise<RolloutState> {
    const versions = this.catalog.versions(service);
    const policy = this.catalog.get(service).releaseWindows;
    const asked = options.reason ?? null;
    if (forceLacksReason(options.force, asked)) throw forceWithoutReason();
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const before = await this.state(service);
      if (options.ifMatch !== undefined && before.revision !== options.ifMatch) throw stale(service, options.ifMatch, before.revision);
      const now = this.clock.now();
      const result = transition(before, command, { versions, now, reason: asked });
      if (!result.ok) throw new SwitchyardError(result.refusal.code, result.refusal.message, { service, phase: before.phase });
      const release = decideRelease({ policy, command, before, after: result.state, now, force: options.force === true });
      if (!release.allowed) throw windowClosed(service, release.refusal, release.nextOpenAt, policy?.timeZone);
      // A forced release says so in the audit log and on the state.
      const reason = release.forced ? forcedReason(asked ?? '') : asked;
      const after = release.forced ? { ...result.state, reason } : result.state;
      const rule = result.rule ?? options.rule ?? null;
      const verdict = options.verdict ?? null;
      const entry = { ...audit(before, command.type, options.actor, reason, before, after, now), rule, verdict };
      const written = await this.store.compareAndSet(before.revision, after, entry);
      if (written.ok) {
        const done: Transition = { service, action: command.type, actor: options.actor, reason, before, after: written.state, rule, verdict };
        for (const listener of this.listeners) listener(done);
        return written.state;
      }
      if (options.ifMatch !== undefined) throw stale(service, options.ifMatch, written.current?.revision ?? null);
    }
    throw new SwitchyardError('SY_ERR_STALE_REVISION', `service ${service} changed ${CAS_ATTEMPTS} times while applying ${command.type}; try again`);
  }

  async overrides(service: string): Promise<Override[]> {
    this.catalog.get(service);
    return this.store.listOverrides(service, this.clock.now());
  }

  async putOverride(service: string, key: string, input: OverrideInput, actor: string): Promise<Override> {
    const versions = this.catalog.versions(service);
    if (!versions.includes(input.version)) {
      throw new SwitchyardError('SY_ERR_UNKNOWN_VERSION', `service ${service} has no version ${input.version} (versions: ${versions.join(', ')})`);
    }
    const ttlMs = input.ttlMs ?? this.overridePolicy.defaultTtlMs;
    if (ttlMs > this.overridePolicy.maxTtlMs) {
      const max = this.overridePolicy.maxTtlMs;
      const shown = max >= DAY_MS ? `${Math.round((max / DAY_MS) * 100) / 100}d` : `${Math.round((max / 3_600_000) * 100) / 100}h`;
      throw new SwitchyardError('SY_ERR_VALIDATION', `ttl: at most ${shown} (overrides.maxTtl); an override is debt, renew it if still needed`);
    }
    const now = this.clock.now();
    const override: Override = { service, key, version: input.version, reason: input.reason, author: actor, createdAt: now, expiresAt: now + ttlMs };
    const previous = (await this.store.listOverrides(service, now)).find((o) => o.key === key) ?? null;
    await this.store.putOverride(override, { service, actor, action: 'override-put', reason: input.reason, at: now, before: previous, after: override });
    return override;
  }

  async deleteOverride(service: string, key: string, actor: string): Promise<Override> {
    this.catalog.get(service);
    const now = this.clock.now();
    const removed = await this.store.deleteOverride(
      service,
      key,
      (before) => ({ service, actor, action: 'override-delete', reason: null, at: now, before, after: null }),
      now,
    );
    if (removed === null) throw new SwitchyardError('SY_ERR_NOT_FOUND', `service ${service} has no override for key ${key}`);
    return removed;
  }
}

/** The audit entry of a service's first state, written from the config file. */
export function seedAudit(state: RolloutState, at: number): NewAuditEntry {
  return audit(state, 'init', 'config', 'initial rollout from the config file', null, state, at);
}

function audit(
  state: RolloutState,
  action: AuditAction,
  actor: string,
  reason: string | null,
  before: RolloutState | null,
  after: RolloutState,
  at: number,
): NewAuditEntry {
  return { service: state.service, actor, action, reason, at, before, after };
}

function forceWithoutReason(): SwitchyardError {
  return new SwitchyardError('SY_ERR_VALIDATION', `reason: ${FORCE_NEEDS_REASON}`, { errors: [{ field: 'reason', message: FORCE_NEEDS_REASON }] });
}

function windowClosed(service: string, refusal: Refusal, nextOpenAt: number | null, timeZone: string | undefined): SwitchyardError {
  return new SwitchyardError(refusal.code, refusal.message, {
    service,
    timeZone: timeZone ?? null,
    nextOpenAt: nextOpenAt === null ? null : new Date(nextOpenAt).toISOString(),
  });
}

function stale(service: string, expected: number, actual: number | null): SwitchyardError {
  return new SwitchyardError(
    'SY_ERR_STALE_REVISION',
    `service ${service} is at revision ${actual ?? 'none'}, not ${expected}; reload and retry`,
    { expected, actual },
  );
}
