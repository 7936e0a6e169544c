import { Router } from 'express';
import { assign, bucketOf, type Assignment } from '../../core/assignment.js';
import { SwitchyardError } from '../../core/errors.js';
import type { RolloutState } from '../../core/rollout-state.js';
import { bpToPercent } from '../../core/weight.js';
import type { AdminDeps } from './deps.js';
import { presentOverride, presentState } from './present.js';
import { readService, serviceParam } from './reads.js';
import { assignmentQuery, etag, parseInput } from './schemas.js';

/** Reads: every service, one service (with ETag), and why a key gets the version it gets. */
export function servicesRouter(deps: AdminDeps): Router {
  const router = Router();

  router.get('/services', async (_req, res) => {
    const reads = await Promise.all(deps.catalog.names.map((service) => readService(deps, service, false)));
    res.json({ services: reads.map((read) => presentState(read.state, staleness(read))) });
  });

  router.get('/services/:service', async (req, res) => {
    const read = await readService(deps, serviceParam(req, deps.catalog), false);
    if (!read.stale) res.setHeader('ETag', etag(read.state.revision));
    res.json(presentState(read.state, staleness(read)));
  });

  router.get('/services/:service/assignment', async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const query = parseInput(assignmentQuery, req.query, 'query');
    const requested = query.version ?? null;
    if (requested !== null) checkVersion(deps, service, requested);
    const read = await readService(deps, service, true);
    const now = deps.clock.now();
    const assignment = assign(read.state, read.overrides, query.key, now, requested);
    const override = read.overrides.get(query.key);
    res.json({
      service,
      key: query.key,
      version: assignment.version,
      reason: assignment.reason,
      explanation: explain(read.state, assignment, query.key),
      // The bucket means something only while a candidate is out; the next rollout gets a new salt.
      bucket: read.state.candidate === null ? null : bucketOf(read.state.salt, query.key),
      weight: bpToPercent(read.state.weightBp),
      weightBp: read.state.weightBp,
      salt: read.state.salt,
      override: override === undefined ? null : presentOverride(override, now),
      requested,
      stable: read.state.stable,
      candidate: read.state.candidate,
      phase: read.state.phase,
      revision: read.state.revision,
      ...staleness(read),
    });
  });

  return router;
}

function staleness(read: { stale: boolean; staleReason?: string }): { stale: boolean; staleReason?: string } {
  return read.staleReason === undefined ? { stale: read.stale } : { stale: read.stale, staleReason: read.staleReason };
}

/** An explicit version request is valid only for a version of this service, as on the proxy. */
function checkVersion(deps: AdminDeps, service: string, version: string): void {
  const versions = deps.catalog.versions(service);
  if (versions.includes(version)) return;
  throw new SwitchyardError('SY_ERR_UNKNOWN_VERSION', `version: service ${service} has no version ${version} (versions: ${versions.join(', ')})`, {
    versions,
  });
}

/** One sentence an operator can read at 3 a.m. */
function explain(state: RolloutState, assignment: Assignment, key: string): string {
  switch (assignment.reason) {
    case 'header':
      return `the request asked for ${assignment.version} explicitly (x-model-version), which wins over overrides and buckets`;
    case 'override':
      return `key ${key} is pinned to ${assignment.version} by an override`;
    case 'stable':
      return `service ${state.service} has no candidate; everyone gets stable ${state.stable}`;
    case 'bucket': {
      const bucket = bucketOf(state.salt, key);
      const side = bucket < state.weightBp ? `< weight ${state.weightBp} bp, so candidate` : `>= weight ${state.weightBp} bp, so stable`;
      return `bucket ${bucket} ${side} ${assignment.version}`;
    }
  }
}
