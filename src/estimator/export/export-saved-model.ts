// Estimator.exportSavedModel for an eager port: there is no graph to save, so the export runs
// modelFn in PREDICT mode on servingInputFn's example inputs while recording every kernel,
// twice (2 and 3 examples) to find what depends on the batch size, and writes the recording as
// a TensorFlow.js graph model (model.json + weights) that plain @tensorflow/tfjs loads with
// tf.loadGraphModel / loadGraphModelSync — no estimator library needed to serve it.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { GraphContext, withGraph } from '../../framework/graph';
import { VariableStore } from '../../framework/variables';
import { loadCheckpoint } from '../checkpoint';
import { EstimatorSpec, ModeKey, ModeKeys, validateSpec } from '../spec';
import type { RunConfig } from '../run-config';
import type { TensorOrDict } from '../input';
import { prepareBackend } from '../backend-init';
import { info } from '../../host/log';
import { describeValue } from '../train-ops';
import { KernelTrace, metaOf, replay, TensorMeta, traceKernels } from './trace';
import { generalizeBatch, Probe } from './batch-axis';
import { emitGraph, EmittedGraph } from './emit';
import { writeTimestampedDir } from './export-dir';
import { asDict, normalizeReceiver, NormalizedReceiver, ServingInputFn, SINGLE_INPUT_KEY, SINGLE_OUTPUT_KEY } from './serving';

/** What the export needs of an Estimator: only its public members. */
export interface ExportableEstimator {
  readonly modelFn: (
    features: never,
    labels: never,
    mode: ModeKey,
    params: never,
    config: RunConfig,
  ) => EstimatorSpec | Promise<EstimatorSpec>;
  readonly modelDir: string;
  readonly config: RunConfig;
  readonly params: object;
  latestCheckpoint(): string | undefined;
}

/** Options of exportSavedModel / Estimator.exportSavedModel. */
export interface ExportSavedModelOptions {
  /** Checkpoint to export (a model.ckpt-N directory); default the latest in modelDir. */
  checkpointPath?: string;
  /** Write model.json indented, for reading (tf.estimator's as_text). */
  asText?: boolean;
  /** Run the written model with tfjs-converter and check it reproduces modelFn's outputs (default true). */
  verify?: boolean;
}

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'group1-shard1of1.bin';

/** The two batch sizes modelFn is traced at (not 1: some ops special-case single rows). */
const PROBE_BATCHES = [2, 3] as const;

type UntypedModelFn = (
  features: TensorOrDict,
  labels: undefined,
  mode: ModeKey,
  params: object,
  config: RunConfig,
) => EstimatorSpec | Promise<EstimatorSpec>;

interface ProbeRun extends Probe {
  /** Predictions were one tensor, not a dict. */
  singleOutput: boolean;
  feeds: Record<string, tf.Tensor>;
  values: Record<string, { values: ArrayLike<number>; shape: number[] }>;
}

/**
 * Writes exportDirBase/<unix seconds>/ with model.json (format 'graph-model') and
 * group1-shard1of1.bin; returns that directory. Signature inputs are the receiver keys ('input'
 * for a single tensor), outputs the prediction keys ('output' for a single tensor).
 */
export async function exportSavedModel(
  estimator: ExportableEstimator,
  exportDirBase: string,
  servingInputFn: ServingInputFn,
  opts: ExportSavedModelOptions = {},
): Promise<string> {
  if (typeof exportDirBase !== 'string' || exportDirBase === '') {
    throw new Error(
      `exportSavedModel(exportDirBase, servingInputFn): exportDirBase must be a directory path, got ${describeValue(exportDirBase)}.`,
    );
  }
  if (typeof servingInputFn !== 'function') {
    throw new Error(
      `exportSavedModel: servingInputFn must be a function returning {features, receiverTensors?}, got ${describeValue(servingInputFn)}.`,
    );
  }
  await prepareBackend(estimator.config.backend);
  const ckpt = opts.checkpointPath ? path.resolve(opts.checkpointPath) : estimator.latestCheckpoint();
  if (!ckpt) {
    throw new Error(
      `exportSavedModel: couldn't find a trained model in ${estimator.modelDir}; train the estimator first or pass {checkpointPath}.`,
    );
  }
  const loaded = loadCheckpoint(ckpt);
  const savedNames = new Set(Object.keys(loaded.tensors));
  const store = new VariableStore(estimator.config.randomSeed, loaded.tensors);
  const engine = tf.engine();
  engine.startScope('export_saved_model');
  try {
    const receiver = await traceServingInput(servingInputFn);
    const probes: ProbeRun[] = [];
    for (const batch of PROBE_BATCHES) probes.push(await runProbe(estimator, store, loaded.meta.globalStep, receiver, batch));
    checkAllRestored(store, savedNames, ckpt);
    let graph: ReturnType<typeof generalizeBatch>;
    try {
      graph = generalizeBatch(probes[0], probes[1]);
    } catch (e) {
      throw prefixError(e, 'exportSavedModel');
    }
    const emitted = emitGraph(graph, (v) => store.nameOf(v));
    const { modelJson, weightData } = await packageModel(emitted, {
      // A dict of predictions comes back from model.predict as a dict with the same keys.
      structuredOutputKeys: probes[0].singleOutput ? undefined : graph.outputs.map((o) => o.key),
      globalStep: loaded.meta.globalStep,
      checkpoint: path.basename(ckpt),
    });
    if (opts.verify ?? true) verifyGraphModel(modelJson, weightData, probes);
    const dir = writeTimestampedDir(path.resolve(exportDirBase), {
      [MODEL_FILE]: JSON.stringify(modelJson, null, opts.asText ? 1 : undefined),
      [WEIGHTS_FILE]: Buffer.from(weightData),
    });
    info(
      `Exported the model at global step ${loaded.meta.globalStep} to ${dir} (inputs: ${graph.inputs.map((i) => `${i.key} [${i.shape}]`).join(', ')}; outputs: ${graph.outputs.map((o) => o.key).join(', ')}).`,
    );
    return dir;
  } finally {
    engine.endScope();
    store.dispose();
  }
}

/** A variable the checkpoint lacks would be exported with its random initial value. */
function checkAllRestored(store: VariableStore, savedNames: Set<string>, ckpt: string): void {
  for (const r of store.records()) {
    if (!savedNames.has(r.name)) {
      throw new Error(
        `exportSavedModel: modelFn created variable '${r.name}' in PREDICT mode, but checkpoint ${ckpt} has no such variable, so the ` +
          `export would hold its random initial value. Build the same layers (same names) in PREDICT as in TRAIN.`,
      );
    }
  }
}

interface TracedReceiver extends NormalizedReceiver {
  trace: KernelTrace;
  /** Whether modelFn gets one tensor (not a dict) as features. */
  singleFeature: boolean;
}

/** Calls servingInputFn while recording, so features computed from receiverTensors can be replayed. */
async function traceServingInput(servingInputFn: ServingInputFn): Promise<TracedReceiver> {
  const trace = new KernelTrace();
  let raw: unknown;
  try {
    raw = await traceKernels(trace, () => servingInputFn());
  } catch (e) {
    throw prefixError(e, 'servingInputFn failed');
  }
  const receiver = normalizeReceiver(raw);
  // The receivers are the graph's inputs, even where the example was itself computed by ops.
  for (const [key, t] of Object.entries(receiver.receivers)) trace.markInput(t, key);
  return { ...receiver, trace, singleFeature: receiver.features instanceof tf.Tensor };
}

function exampleRows(t: tf.Tensor, batch: number): tf.Tensor {
  const n = t.shape[0] as number;
  return tf.gather(
    t,
    tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % n),
      'int32',
    ),
  );
}

/** Features for `batch` examples: the receivers repeated, then servingInputFn's ops replayed. */
function probeFeatures(receiver: TracedReceiver, feeds: Record<string, tf.Tensor>): TensorOrDict {
  const keys = receiver.features instanceof tf.Tensor ? [SINGLE_INPUT_KEY] : Object.keys(receiver.features);
  const originals = asDict(receiver.features, SINGLE_INPUT_KEY);
  let tensors: tf.Tensor[];
  if (receiver.receiversAreFeatures) {
    tensors = keys.map((k) => feeds[k]);
  } else {
    try {
      tensors = replay(
        receiver.trace,
        feeds,
        keys.map((k) => receiver.trace.refOf(originals[k])),
      );
    } catch (e) {
      throw prefixError(
        e,
        'servingInputFn computes features from receiverTensors in a way that depends on the batch size (replaying it with another batch failed); ' +
          'use -1 for the batch axis in its reshapes',
      );
    }
  }
  if (receiver.singleFeature) return tensors[0];
  return Object.fromEntries(keys.map((k, i) => [k, tensors[i]]));
}

async function runProbe(
  estimator: ExportableEstimator,
  store: VariableStore,
  globalStep: number,
  receiver: TracedReceiver,
  batch: number,
): Promise<ProbeRun> {
  const feeds = Object.fromEntries(Object.entries(receiver.receivers).map(([k, t]) => [k, exampleRows(t, batch)]));
  const trace = new KernelTrace(feeds);
  const modelFn = estimator.modelFn as unknown as UntypedModelFn;
  let singleOutput = false;
  const outputs = await traceKernels(trace, async () => {
    const features = probeFeatures(receiver, feeds);
    const graph = new GraphContext(store, 'infer', estimator.config, globalStep);
    let raw: unknown;
    try {
      raw = await withGraph(graph, () => modelFn(features, undefined, ModeKeys.PREDICT, estimator.params, estimator.config));
    } catch (e) {
      throw prefixError(e, `modelFn failed in PREDICT mode while exporting (traced with ${batch} examples)`);
    }
    const spec = validateSpec(raw, ModeKeys.PREDICT);
    const out = spec.exportOutputs ?? (spec.predictions as TensorOrDict);
    singleOutput = out instanceof tf.Tensor;
    return asDict(out, SINGLE_OUTPUT_KEY);
  });
  const values: ProbeRun['values'] = {};
  for (const [k, t] of Object.entries(outputs)) values[k] = { values: t.dataSync().slice(), shape: [...t.shape] };
  return {
    batch,
    trace,
    singleOutput,
    feeds,
    values,
    inputs: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, metaOf(t)])) as Record<string, TensorMeta>,
    outputs: Object.entries(outputs).map(([key, t]) => ({ key, ref: trace.refOf(t), meta: metaOf(t) })),
  };
}

interface ModelProvenance {
  structuredOutputKeys?: string[];
  globalStep: number;
  checkpoint: string;
}

/** The model.json object and the weights file for an emitted graph. */
async function packageModel(
  emitted: EmittedGraph,
  provenance: ModelProvenance,
): Promise<{ modelJson: tf.io.ModelJSON; weightData: ArrayBuffer }> {
  const named = emitted.weights.map((w) => ({ name: w.name, tensor: tf.tensor(w.data.values, w.data.shape, w.data.dtype) }));
  const { data, specs } = await tf.io.encodeWeights(named);
  tf.dispose(named.map((n) => n.tensor));
  const weightData = data as ArrayBuffer;
  const userDefinedMetadata: Record<string, unknown> = {
    tfjsEstimator: { globalStep: provenance.globalStep, checkpoint: provenance.checkpoint },
  };
  if (provenance.structuredOutputKeys) userDefinedMetadata.structuredOutputKeys = provenance.structuredOutputKeys;
  const modelJson: tf.io.ModelJSON = {
    format: 'graph-model',
    generatedBy: 'tfjs-estimator',
    convertedBy: 'tfjs-estimator exportSavedModel (traced eager PREDICT pass)',
    modelTopology: emitted.graph as unknown as tf.io.ModelJSON['modelTopology'],
    signature: emitted.signature as unknown as tf.io.ModelJSON['signature'],
    userDefinedMetadata: userDefinedMetadata as tf.io.ModelJSON['userDefinedMetadata'],
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
  };
  return { modelJson, weightData };
}

/**
 * Loads the model the way a user will (tfjs-converter) and checks it reproduces what modelFn
 * computed at both probe batch sizes: a translation mistake fails the export, not the user.
 */
function verifyGraphModel(modelJson: tf.io.ModelJSON, weightData: ArrayBuffer, probes: ProbeRun[]): void {
  const model = tf.loadGraphModelSync([modelJson, weightData]);
  try {
    for (const probe of probes) tf.tidy(() => checkProbe(model, probe));
  } finally {
    model.dispose();
  }
}

function checkProbe(model: tf.GraphModel<tf.io.IOHandlerSync>, probe: ProbeRun): void {
  const keys = probe.outputs.map((o) => o.key);
  const got = model.execute(probe.feeds, keys);
  const list = Array.isArray(got) ? got : [got];
  keys.forEach((key, i) => {
    const want = probe.values[key];
    const t = list[i];
    if (!tf.util.arraysEqual(t.shape, want.shape)) {
      throw new Error(
        `Internal export error: with ${probe.batch} examples the exported graph gives '${key}' shape [${t.shape}] but modelFn gave [${want.shape}].`,
      );
    }
    const data = t.dataSync();
    for (let j = 0; j < data.length; j++) {
      const a = data[j];
      const b = want.values[j];
      if (!(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b))) && !(Number.isNaN(a) && Number.isNaN(b))) {
        throw new Error(
          `Internal export error: with ${probe.batch} examples the exported graph gives ${key}[${j}] = ${a} but modelFn gave ${b}; please report this with your modelFn.`,
        );
      }
    }
  });
}

function prefixError(e: unknown, prefix: string): Error {
  if (!(e instanceof Error)) return new Error(`${prefix}: ${String(e)}`);
  e.message = `${prefix}: ${e.message}`;
  return e;
}
