import { command, holdsLease, readAudit, readService, type AuditRead } from './admin.js';
import type { SampleModel } from './backends.js';
import { CANDIDATE } from './config.js';
import type { Replica } from './replica.js';

/**
 * The analysis lease holder killed while a canary regresses: a manual canary
 * at 50 % of one service takes steady traffic; the bench finds the replica
 * whose `/metrics` says `switchyard_analysis_leader 1`, makes the candidate's
 * model fail every request and at once sends the holder SIGKILL (no drain, no
 * lease released, its last second of windows lost). It then watches the other
 * replicas' `/metrics` for the new holder, the service's stored verdict for
 * the first one judged after the kill, and the audit log for the rollback;
 * a few intervals after the rollback it counts the rollbacks of that rollout
 * in the audit log (one expected). The killed replica is started again
 * before the next trial.
 */
export interface KillTrial {
  readonly killed: string;
  readonly newHolder: string | null;
  /** Kill to another replica reporting the lease. */
  readonly takeoverMs: number | null;
  /** Kill to the first verdict stored after it (its `at`, taken when judging starts). */
  readonly verdictMs: number | null;
  /** Kill to the rollback's audit entry. */
  readonly rollbackMs: number | null;
  /** Rollback entries of this rollout in the audit log, with who wrote them. */
  readonly rollbacks: readonly AuditRead[];
}

export interface LeaseFleet {
  /** The live replicas; a trial replaces the one it killed. */
  replicas: Replica[];
  readonly restart: (killed: Replica) => Promise<Replica>;
}

const WEIGHT = 50;
const WATCH_MS = 30_000;
const POLL_MS = 100;
/** After the rollback, how many intervals a second one would have had to show up. */
const LINGER_INTERVALS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function killLeaseHolder(fleet: LeaseFleet, service: string, candidate: SampleModel, intervalMs: number, trial: number): Promise<KillTrial> {
  const admin = () => (fleet.replicas[0] as Replica).adminUrl;
  const startedAt = Date.now();
  await command(admin(), service, 'rollout', { candidate: CANDIDATE, weight: WEIGHT, reason: `bench/fleet lease trial ${trial}` });
  await until(async () => (await readService(admin(), service)).lastVerdict !== null, 'a first verdict on the healthy canary');
  const holder = await findHolder(fleet.replicas);
  const others = fleet.replicas.filter((r) => r !== holder);
  fleet.replicas = others;
  await candidate.setErrorRate(1);
  const killedAt = Date.now();
  await holder.kill();

  let takeoverMs: number | null = null;
  let newHolder: string | null = null;
  let verdictMs: number | null = null;
  let rollbackMs: number | null = null;
  const since = (at: string) => Date.parse(at) - killedAt;
  while (Date.now() - killedAt < WATCH_MS && rollbackMs === null) {
    if (takeoverMs === null) {
      const leases = await Promise.all(others.map((r) => holdsLease(r.adminUrl)));
      const at = leases.indexOf(true);
      if (at >= 0) [takeoverMs, newHolder] = [Date.now() - killedAt, (others[at] as Replica).name];
    }
    const state = await readService(admin(), service);
    if (verdictMs === null && state.lastVerdict !== null && since(state.lastVerdict.at) > 0) verdictMs = since(state.lastVerdict.at);
    if (state.phase === 'rolled_back') rollbackMs = since((await rollbacksSince(admin(), service, startedAt))[0]?.at ?? new Date().toISOString());
    else await sleep(POLL_MS);
  }
  await sleep(LINGER_INTERVALS * intervalMs);
  const rollbacks = await rollbacksSince(admin(), service, startedAt);
  await candidate.setErrorRate(0);
  fleet.replicas = [...fleet.replicas, await fleet.restart(holder)];
  return { killed: holder.name, newHolder, takeoverMs, verdictMs, rollbackMs, rollbacks };
}

/** The one replica that reports the lease; waits a few intervals for the fleet to agree. */
async function findHolder(replicas: readonly Replica[]): Promise<Replica> {
  let holders: Replica[] = [];
  await until(async () => {
    const leases = await Promise.all(replicas.map((r) => holdsLease(r.adminUrl)));
    holders = replicas.filter((_, i) => leases[i] === true);
    return holders.length === 1;
  }, 'exactly one replica reporting the analysis lease');
  return holders[0] as Replica;
}

/** Rollback entries written since `fromMs`, oldest first. */
async function rollbacksSince(adminUrl: string, service: string, fromMs: number): Promise<AuditRead[]> {
  const entries = await readAudit(adminUrl, service);
  return entries.filter((e) => e.action === 'rollback' && Date.parse(e.at) >= fromMs).reverse();
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WATCH_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench/fleet: no ${what} within ${WATCH_MS / 1000} s`);
    await sleep(POLL_MS);
  }
}
