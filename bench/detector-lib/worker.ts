import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_ANALYSIS_CONFIG } from '../../src/core/analysis/config.js';
import { simulateRun, type RunResult } from './run.js';
import { benchCase } from './scenarios.js';

/** One bench job: a case, a seed, and whether to cross-check the checkpointed verdict. */
export interface BenchJob {
  readonly caseId: string;
  readonly seed: number;
  readonly verify: boolean;
}

export interface BenchOutcome extends RunResult {
  readonly caseId: string;
  readonly seed: number;
}

export function runJobs(jobs: readonly BenchJob[]): BenchOutcome[] {
  return jobs.map((job) => ({
    caseId: job.caseId,
    seed: job.seed,
    ...simulateRun(benchCase(job.caseId), job.seed, DEFAULT_ANALYSIS_CONFIG, job.verify),
  }));
}

if (parentPort !== null) parentPort.postMessage(runJobs((workerData as { jobs: BenchJob[] }).jobs));
