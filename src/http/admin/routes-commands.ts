import { Router, type RequestHandler } from 'express';
import type { z } from 'zod';
import type { RolloutCommand } from '../../core/transition.js';
import { callerOf } from './auth.js';
import { writeGuard } from './body.js';
import type { AdminDeps } from './deps.js';
import { presentState } from './present.js';
import { serviceParam } from './reads.js';
import { etag, parseIfMatch, parseInput, reasonBody, rollbackBody, shadowBody, startBody, weightBody } from './schemas.js';

type WithReason = { readonly reason?: string | null | undefined; readonly force?: boolean | undefined };

/**
 * One handler shape for every rollout command: check the service, If-Match and
 * body, then hand the command to RolloutCommands, which alone decides.
 */
function commandRoute<S extends z.ZodType<WithReason>>(
  deps: AdminDeps,
  schema: S,
  toCommand: (body: z.output<S>) => RolloutCommand,
): RequestHandler {
  return async (req, res) => {
    const service = serviceParam(req, deps.catalog);
    const ifMatch = parseIfMatch(req.get('if-match'));
    const body = parseInput(schema, req.body, 'body');
    const command = toCommand(body);
    const actor = callerOf(res).name;
    const reason = body.reason ?? null;
    const force = body.force === true;
    const state = await deps.commands.run(service, command, { actor, reason, force, ...(ifMatch === undefined ? {} : { ifMatch }) });
    deps.log.info({ service, actor, action: command.type, revision: state.revision, reason: state.reason, force }, 'admin command applied');
    res.setHeader('ETag', etag(state.revision));
    res.json(presentState(state));
  };
}

export function commandsRouter(deps: AdminDeps): Router {
  const router = Router();
  const guard = writeGuard();
  const base = '/services/:service';

  router.post(
    `${base}/rollout`,
    ...guard,
    commandRoute(deps, startBody, (b) => ({
      type: 'start',
      candidate: b.candidate,
      ...(b.strategy === undefined ? {} : { strategy: b.strategy }),
      ...(b.steps === undefined ? {} : { steps: b.steps }),
      ...(b.weight === undefined ? {} : { weightBp: b.weight }),
      ...(b.salt === undefined ? {} : { salt: b.salt }),
    })),
  );
  router.post(`${base}/weight`, ...guard, commandRoute(deps, weightBody, (b) => ({ type: 'set-weight', weightBp: b.weight })));
  router.post(`${base}/rollback`, ...guard, commandRoute(deps, rollbackBody, () => ({ type: 'rollback' })));
  for (const type of ['pause', 'resume', 'promote', 'switch'] as const) {
    router.post(`${base}/${type}`, ...guard, commandRoute(deps, reasonBody, () => ({ type })));
  }
  // The shadow is one resource per service: PUT sets or replaces it, DELETE stops it.
  router.put(`${base}/shadow`, ...guard, commandRoute(deps, shadowBody, (b) => ({ type: 'shadow', version: b.version, sampleBp: b.percent })));
  router.delete(`${base}/shadow`, ...guard, commandRoute(deps, reasonBody, () => ({ type: 'shadow-stop' })));
  return router;
}
