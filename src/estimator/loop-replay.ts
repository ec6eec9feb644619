// When train(), evaluate() and predict() replay their recorded step instead of calling modelFn:
// after two steps in a row recorded the same kernels (the first step of a new model also
// creates its variables, so it differs), until the call returns. Steps that write summaries or
// the graph, steps while tf.profile runs, and batches of another shape call modelFn as before.
// A modelFn whose steps differ (random ops, a rate decayed from the step number, values read
// back) is never replayed; it just runs as before.
import * as tf from '@tensorflow/tfjs';
import { StepRecorder, StepReplay, StepTrace, sameTrace } from '../framework/step-trace';
import type { VariableStore } from '../framework/variables';
import type { InputBatch, TensorOrDict } from './input';
import type { Predictions } from './spec';
import { activeCollector } from './summary/collect';
import { debug, warn } from '../host/log';
import { StepGraph, StepGraphRecording, stepGraphsWanted } from '../backend/webgpu/step-graph';

/** What the last train(), evaluate() or predict() call's step replay did (benchmarks, tests). */
export interface ReplayReport {
  recordedSteps: number;
  replayedSteps: number;
  /** Kernels a replayed step runs. */
  kernels: number;
  /** Why no step was replayed, if none was. */
  reason?: string;
  /** webgpu: replayed steps that ran from their recorded GPU commands (step-graph.ts). */
  graphSteps: number;
  /** webgpu: why replayed steps ran through tfjs's kernels instead, where they did. */
  graphReason?: string;
  /** webgpu: GPU memory the last step graph holds beside tfjs's pool, and what it would without sharing buffers. */
  graphBytes?: number;
  graphUnsharedBytes?: number;
}

let lastReport: ReplayReport = { recordedSteps: 0, replayedSteps: 0, kernels: 0, graphSteps: 0 };

/** What the most recent train(), evaluate() or predict() call's step replay did. */
export function lastReplayReport(): ReplayReport {
  return { ...lastReport };
}

/** The batch's tensors in a fixed order: features, then labels (dict values by key order). */
export function batchTensors(batch: InputBatch): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const add = (x: TensorOrDict | undefined): void => {
    if (x === undefined) return;
    if (x instanceof tf.Tensor) out.push(x);
    else for (const k of Object.keys(x)) out.push(x[k]);
  };
  add(batch.features);
  add(batch.labels);
  return out;
}

/** A recorded step's outputs, in the order the replay returns them. */
export function stepOutputs(loss: tf.Tensor | undefined, predictions: Predictions | undefined): Array<tf.Tensor | undefined> {
  if (predictions === undefined || predictions instanceof tf.Tensor) return [loss, predictions];
  return [loss, ...Object.keys(predictions).map((k) => predictions[k])];
}

/** The inverse of stepOutputs, given the recorded step's predictions for their keys. */
function unpackOutputs(
  outs: Array<tf.Tensor | undefined>,
  shape: Predictions | undefined,
): { loss?: tf.Tensor; predictions?: Predictions } {
  if (shape === undefined || shape instanceof tf.Tensor) return { loss: outs[0], predictions: outs[1] };
  const predictions: Record<string, tf.Tensor> = {};
  Object.keys(shape).forEach((k, i) => (predictions[k] = outs[i + 1]!));
  return { loss: outs[0], predictions };
}

export interface ReplayedStep {
  loss?: tf.Tensor;
  predictions?: Predictions;
  /** The evalMetricOps (EVAL), remade from this batch's values. */
  evalMetricOps?: Record<string, unknown>;
}

/** What a recorded step's spec was, beyond its kernels: its outputs' shape and its metrics. */
export interface RecordedSpec {
  usedStepValue: boolean;
  /** TRAIN: how far the step moved the global step (a replay moves it by one). */
  stepIncrement?: number;
  predictions: Predictions | undefined;
  /** EVAL: each metric's key, and which of the step's reads (readValues) made it. */
  metricReads?: Array<[string, number]>;
}

/** One train(), evaluate() or predict() call's recording and replay. */
export class LoopReplay {
  private previous: StepTrace | undefined;
  private replay: StepReplay | undefined;
  private variables: tf.Variable[] = [];
  private predictionsShape: Predictions | undefined;
  private metricReads: Array<[string, number]> | undefined;
  private off: string | undefined;
  private misses = 0;
  private graph: StepGraph | undefined;
  private graphOff: string | undefined;
  private graphMisses = 0;
  private graphWanted: boolean | undefined;
  private readonly report: ReplayReport = { recordedSteps: 0, replayedSteps: 0, kernels: 0, graphSteps: 0 };

  constructor(enabled: boolean) {
    if (!enabled) this.off = 'turned off (RunConfig replaySteps, TFJS_ESTIMATOR_REPLAY=0)';
    lastReport = this.report;
    this.report.reason = this.off;
  }

  /** Whether this step can run the recorded one (writeGraph: the step also writes the graph). */
  canReplay(batch: InputBatch, writeGraph: boolean): boolean {
    if (!this.replay || writeGraph || activeCollector() || engineIsProfiling()) return false;
    const why = this.replay.mismatch(batchTensors(batch));
    if (why !== undefined) debug(`Step replay skipped for one step: ${why}.`);
    return why === undefined;
  }

  /** A recorder for this step when it should be recorded; start it right before modelFn. */
  recorderFor(store: VariableStore, batch: InputBatch, writeGraph: boolean): StepRecorder | undefined {
    if (this.replay || this.off !== undefined || writeGraph || activeCollector() || engineIsProfiling()) return undefined;
    this.variables = store.records().map((r) => r.variable);
    return new StepRecorder(this.variables, batchTensors(batch));
  }

  /** After a recorded step: keeps its trace, or makes the replay when it matches the previous one. */
  recorded(trace: StepTrace | string, opts: RecordedSpec): void {
    this.report.recordedSteps += 1;
    let why: string | undefined;
    if (opts.usedStepValue) why = 'modelFn uses the step number as a value (a decayed rate, a random op)';
    else if (opts.stepIncrement !== undefined && opts.stepIncrement !== 1)
      why = `the step advanced the global step by ${opts.stepIncrement}`;
    if (why !== undefined) return this.turnOff(why);
    if (typeof trace === 'string') return this.miss(`the step cannot be replayed: ${trace}`);
    if (this.previous) {
      if (sameTrace(this.previous, trace)) {
        this.replay = new StepReplay(trace);
        this.predictionsShape = opts.predictions;
        this.metricReads = opts.metricReads;
        this.previous = undefined;
        this.report.kernels = this.replay.kernelCount;
        this.report.reason = undefined;
        debug(`Replaying the recorded step from now on (${this.replay.kernelCount} kernels a step).`);
        return;
      }
      this.miss('consecutive steps ran different kernels');
    }
    this.previous = trace;
  }

  /** Runs the recorded step on this batch (canReplay said yes). */
  run(batch: InputBatch): ReplayedStep {
    const inputs = batchTensors(batch);
    const { outputs, reads } = this.runFromGraph(inputs) ?? this.runAndRecordGraph(inputs);
    this.report.replayedSteps += 1;
    const step: ReplayedStep = unpackOutputs(outputs, this.predictionsShape);
    if (this.metricReads) step.evalMetricOps = Object.fromEntries(this.metricReads.map(([k, i]) => [k, reads[i]]));
    return step;
  }

  dispose(): void {
    this.replay?.dispose();
    this.replay = undefined;
    this.graph?.dispose();
    this.graph = undefined;
  }

  /**
   * Awaited between steps (RunLoopOptions.betweenSteps): before a new step graph's first step,
   * Dawn's word on it (a refusal drops it, for the call).
   */
  async settle(): Promise<void> {
    const graph = this.graph;
    if (!graph || graph.stepsRun > 0) return;
    const refusal = await graph.verdict();
    if (!refusal || graph !== this.graph) return;
    graph.dispose();
    this.graph = undefined;
    this.graphOff = refusal;
    this.report.graphReason = refusal;
    // Not the user's doing, and the steps still run (through the kernels, slower): said once.
    warn(`The step's recorded GPU commands are not used: ${refusal}. Steps run through the kernels.`);
  }

  /** The step from its recorded GPU commands, where there is a graph and it still fits. */
  private runFromGraph(inputs: tf.Tensor[]): ReturnType<StepReplay['run']> | undefined {
    const graph = this.graph;
    if (!graph) return undefined;
    const why = graph.mismatch(this.variables);
    if (why === undefined) {
      this.report.graphSteps += 1;
      return this.replay!.runOutside(this.variables, inputs, () => graph.run(inputs));
    }
    graph.dispose();
    this.graph = undefined;
    this.report.graphReason = why;
    // Recorded again right away: a summary step (modelFn) assigns the variables anew every few
    // hundred steps. A graph dropped twice in a row after a few steps is not worth recording.
    this.graphMisses = graph.stepsRun < 4 ? this.graphMisses + 1 : 0;
    if (this.graphMisses >= 2) this.graphOff = why;
    debug(`The step's GPU commands are not reused for one step: ${why}.`);
    return undefined;
  }

  /** The step through the backend's kernels; on webgpu its GPU commands are recorded the first time. */
  private runAndRecordGraph(inputs: tf.Tensor[]): ReturnType<StepReplay['run']> {
    const replay = this.replay!;
    // The backend does not change during a call: asked once.
    if (!(this.graphWanted ??= stepGraphsWanted())) return replay.run(this.variables, inputs);
    if (this.graphOff === undefined && !replay.runsInOneGo)
      this.graphOff = 'the step reads a value it computed before it assigns the variables (a metric in training)';
    const recording = this.graphOff === undefined ? StepGraphRecording.start(this.variables) : undefined;
    if (!recording) {
      this.report.graphReason ??= this.graphOff;
      return replay.run(this.variables, inputs);
    }
    let result: ReturnType<StepReplay['run']>;
    try {
      result = replay.run(this.variables, inputs, (read, dataId) => recording.markRead(read, dataId));
    } finally {
      recording.stop();
    }
    const graph = recording.finish({
      variables: this.variables,
      assigned: replay.assignedVariables,
      inputs,
      kept: replay.keptTensors(),
      outputs: replay.computedOutputs(result.outputs),
    });
    if (typeof graph === 'string') {
      this.graphOff = graph;
      this.report.graphReason = graph;
      debug(`The step's GPU commands are not reused: ${graph}.`);
    } else {
      this.graph = graph;
      this.report.graphReason = undefined;
      this.report.graphBytes = graph.bytes;
      this.report.graphUnsharedBytes = graph.unsharedBytes;
      const mb = (n: number) => (n / 2 ** 20).toFixed(1);
      debug(
        `The step's GPU commands are recorded (${graph.dispatchCount} dispatches, ${mb(graph.bytes)} MiB of buffers); later steps reuse them.`,
      );
    }
    return result;
  }

  private miss(why: string): void {
    this.report.reason = why;
    // The first step of a new model makes its variables; a third miss in a row is not that.
    if (++this.misses >= 3) this.turnOff(why);
  }

  private turnOff(why: string): void {
    this.off = why;
    this.report.reason = why;
    this.previous = undefined;
    debug(`Training steps are not replayed: ${why}.`);
  }
}

function engineIsProfiling(): boolean {
  const e = tf.engine() as unknown as { state: { profiling: boolean } };
  return e.state.profiling || tf.env().getBool('DEBUG');
}
