// Where a training step's time outside the kernels goes, by phase of the run loop (see
// estimator/run-loop.ts: beforeRun hooks, fetch the batch, modelFn, the train op, dispose,
// afterRun hooks):
//  - input: from the step's first beforeRun to modelFn's start (the input pipeline: next
//    batch, its tensors, the loop's bookkeeping);
//  - forward: modelFn itself (layers, variable lookups, the loss; the train op is only built);
//  - backward + update: from modelFn's return to the step's last afterRun (the tape walked
//    backwards, the optimizer, global step, the step's tensors disposed, hooks).
// Each phase's wall time minus the kernel time inside it is its JavaScript work. A replayed
// step (no modelFn call) is one phase: input, the replay and the hooks.
import type { SessionRunHook } from '../src/estimator/hooks/hook';

/** The running total of kernel milliseconds (from a kernel timer wrapped around the backend). */
export type KernelClock = () => number;

const PHASES = ['input', 'forward', 'backward + update'] as const;

export interface StepPhases {
  /** Register first among the hooks: marks the step's start. */
  first: SessionRunHook;
  /** Register last among the hooks: marks the step's end. */
  last: SessionRunHook;
  /** modelFn, timed. */
  wrap<A extends unknown[], R>(modelFn: (...args: A) => R): (...args: A) => R;
  /** Per phase: wall and kernel milliseconds per step, medians over the steps seen. */
  report(): Array<{ phase: string; wallMs: number; kernelMs: number; outsideMs: number }>;
}

export function stepPhases(kernelMs: KernelClock): StepPhases {
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  // Per step: [wall, kernel] at each boundary: start, modelFn start, modelFn end, end.
  let marks: Array<[number, number]> = [];
  const steps: Array<Array<[number, number]>> = [];
  // Steps that ran the recorded kernels without modelFn (estimator/loop-replay.ts): one phase.
  const replayed: Array<Array<[number, number]>> = [];
  const mark = () => marks.push([now(), kernelMs()]);
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  return {
    first: { beforeRun: () => void ((marks = []), mark()) },
    last: {
      afterRun: () => {
        mark();
        if (marks.length === 4) steps.push(marks);
        else if (marks.length === 2) replayed.push(marks);
      },
    },
    wrap:
      <A extends unknown[], R>(fn: (...args: A) => R) =>
      (...args: A): R => {
        mark();
        try {
          return fn(...args);
        } finally {
          mark();
        }
      },
    report: () => {
      const row = (phase: string, list: Array<Array<[number, number]>>, i: number) => {
        const wall = list.map((s) => s[i + 1][0] - s[i][0]);
        const kern = list.map((s) => s[i + 1][1] - s[i][1]);
        const outside = list.map((_, k) => wall[k] - kern[k]);
        return { phase, wallMs: median(wall), kernelMs: median(kern), outsideMs: median(outside) };
      };
      const rows = steps.length ? PHASES.map((phase, i) => row(phase, steps, i)) : [];
      if (replayed.length) rows.push(row(`replayed step (${replayed.length} steps)`, replayed, 0));
      return rows;
    },
  };
}
