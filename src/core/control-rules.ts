/**
 * The rules between operators and the analysis loop: who wins when both move a
 * rollout. Each accepted transition that applied one names it in its audit entry,
 * so the log says not only what happened but by which rule.
 */
export const CONTROL_RULES = {
  /** An operator's weight starts the step's bake again; the step passes only on evidence at the new weight. */
  operatorWeight: "an operator's weight restarts the step's bake; the step advances only on traffic judged at the new weight",
  /** Weight 0 pauses: with no traffic there is nothing to judge, and the loop must not raise it again. */
  weightZeroHolds: 'a weight of 0 pauses the rollout: nothing advances until resume or a new weight',
  /** A new weight above 0 ends a pause at weight 0: the operator gave the candidate traffic again. */
  weightResumes: 'a weight above 0 resumes a rollout paused at weight 0',
  /** Resume continues the plan: a rollout paused at weight 0 gets its step's weight back. */
  resumeRestoresStep: "resume returns a rollout paused at weight 0 to its step's weight",
  /** The loop advances only a step whose bake is over and whose weight was judged (warm-up included). */
  judgedAdvance: 'a step advances only after its bake time and once the candidate was judged at its weight',
  /** A fail rolls back whoever set the weight, paused or not: the evidence does not expire. */
  failRollsBack: 'a failing verdict rolls back, whoever set the weight and whether or not the rollout is paused',
  /** A manual canary (no steps) is judged and rolled back on a fail, never advanced. */
  manualCanary: 'a canary started without steps is moved by operators only; the analysis may roll it back, never advance it',
} as const;

export type ControlRule = keyof typeof CONTROL_RULES;
