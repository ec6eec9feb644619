// Exporters for EvalSpec.exporters (tf.estimator.LatestExporter / BestExporter / FinalExporter):
// after each evaluation trainAndEvaluate calls export(), which writes
// modelDir/export/<name>/<timestamp>/ and keeps the newest few.
import * as path from 'path';
import type { EvalResults } from '../estimator';
import type { Exporter } from '../train-and-evaluate';
import { readEventsDir } from '../../events/reader';
import { info } from '../../host/log';
import { exportSavedModel, ExportableEstimator, ExportSavedModelOptions } from './export-saved-model';
import { keepNewestExports } from './export-dir';
import type { ServingInputFn } from './serving';

/** Any Estimator (exporters only use its public members). */
type AnyEstimator = ExportableEstimator;

/** Options of LatestExporter (and BestExporter). */
export interface LatestExporterOptions {
  /** How many exports to keep (oldest deleted first); null keeps all. Default 5. */
  exportsToKeep?: number | null;
  /** Write model.json indented (tf.estimator's as_text). */
  asText?: boolean;
}

/** true when `current` is better than `best` (tf.estimator's compare_fn). */
export type CompareFn = (best: EvalResults, current: EvalResults) => boolean;

/** Options of BestExporter. */
export interface BestExporterOptions extends LatestExporterOptions {
  /** Default: lower loss is better. */
  compareFn?: CompareFn;
  /**
   * Folder of eval event files (relative to modelDir) holding earlier evaluations, so a new
   * exporter on an existing modelDir knows the best so far. Default 'eval'; null: start fresh.
   */
  eventDir?: string | null;
}

function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`${kind}: name must be a non-empty folder name (letters, digits, '_', '.', '-'), got ${JSON.stringify(name)}.`);
  }
  return name;
}

function checkKeep(kind: string, keep: number | null | undefined): number | null {
  if (keep === null) return null;
  const k = keep ?? 5;
  if (!Number.isInteger(k) || k < 1)
    throw new Error(`${kind}: exportsToKeep must be a positive integer or null (keep all), got ${String(keep)}.`);
  return k;
}

abstract class BaseExporter implements Exporter {
  readonly name: string;
  protected readonly exportsToKeep: number | null;
  protected readonly exportOptions: ExportSavedModelOptions;

  constructor(
    kind: string,
    name: string,
    protected readonly servingInputFn: ServingInputFn,
    opts: LatestExporterOptions,
  ) {
    this.name = checkName(kind, name);
    if (typeof servingInputFn !== 'function')
      throw new Error(`${kind}: servingInputFn must be a function returning {features, receiverTensors?}.`);
    this.exportsToKeep = checkKeep(kind, opts.exportsToKeep);
    this.exportOptions = { asText: opts.asText };
  }

  abstract export(
    estimator: AnyEstimator,
    exportPath: string,
    checkpointPath: string,
    evalResult: EvalResults,
    isTheFinalExport: boolean,
  ): Promise<string | undefined>;

  protected async write(estimator: AnyEstimator, exportPath: string, checkpointPath: string): Promise<string> {
    const dir = await exportSavedModel(estimator, exportPath, this.servingInputFn, { ...this.exportOptions, checkpointPath });
    if (this.exportsToKeep !== null) keepNewestExports(exportPath, this.exportsToKeep);
    return dir;
  }
}

/** Exports after every evaluation; keeps the newest `exportsToKeep`. */
export class LatestExporter extends BaseExporter {
  constructor(name: string, servingInputFn: ServingInputFn, opts: LatestExporterOptions = {}) {
    super('LatestExporter', name, servingInputFn, opts);
  }

  async export(
    estimator: AnyEstimator,
    exportPath: string,
    checkpointPath: string,
    _evalResult?: EvalResults,
    _isTheFinalExport?: boolean,
  ): Promise<string | undefined> {
    return this.write(estimator, exportPath, checkpointPath);
  }
}

/** Exports only at the final evaluation of trainAndEvaluate. */
export class FinalExporter extends BaseExporter {
  constructor(name: string, servingInputFn: ServingInputFn, opts: { asText?: boolean } = {}) {
    super('FinalExporter', name, servingInputFn, { ...opts, exportsToKeep: null });
  }

  async export(
    estimator: AnyEstimator,
    exportPath: string,
    checkpointPath: string,
    _evalResult: EvalResults,
    isTheFinalExport: boolean,
  ): Promise<string | undefined> {
    return isTheFinalExport ? this.write(estimator, exportPath, checkpointPath) : undefined;
  }
}

export const lossSmaller: CompareFn = (best, current) => {
  if (typeof best.loss !== 'number' || typeof current.loss !== 'number') {
    throw new Error(
      "BestExporter's default compareFn compares 'loss', which the eval results lack; pass {compareFn: (best, current) => ...}.",
    );
  }
  return current.loss < best.loss;
};

/** Exports when an evaluation beats the best one so far (compareFn); keeps the newest `exportsToKeep`. */
export class BestExporter extends BaseExporter {
  private readonly compareFn: CompareFn;
  private readonly eventDir: string | null;
  private best?: EvalResults;
  private historyLoadedFor?: string;

  constructor(name: string, servingInputFn: ServingInputFn, opts: BestExporterOptions = {}) {
    super('BestExporter', name, servingInputFn, opts);
    if (opts.compareFn !== undefined && typeof opts.compareFn !== 'function') {
      throw new Error('BestExporter: compareFn must be a function (best, current) => boolean, true when current is better.');
    }
    this.compareFn = opts.compareFn ?? lossSmaller;
    this.eventDir = opts.eventDir === undefined ? 'eval' : opts.eventDir;
  }

  /** The best evaluation seen so far (from this run and, once loaded, the eval event files). */
  get bestEvalResult(): EvalResults | undefined {
    return this.best;
  }

  async export(
    estimator: AnyEstimator,
    exportPath: string,
    checkpointPath: string,
    evalResult: EvalResults,
    _isTheFinalExport?: boolean,
  ): Promise<string | undefined> {
    if (this.historyLoadedFor !== estimator.modelDir) {
      this.historyLoadedFor = estimator.modelDir;
      const earlier = await this.earlierBest(estimator.modelDir, evalResult.globalStep);
      if (earlier && (!this.best || this.compareFn(this.best, earlier))) this.best = earlier;
    }
    if (this.best && !this.compareFn(this.best, evalResult)) {
      info(
        `BestExporter '${this.name}': not exporting step ${evalResult.globalStep}; the evaluation at step ${this.best.globalStep} is still the best.`,
      );
      return undefined;
    }
    const dir = await this.write(estimator, exportPath, checkpointPath);
    this.best = evalResult;
    return dir;
  }

  /** The best evaluation recorded in modelDir/eventDir before this one (tf.estimator reads the same files). */
  private async earlierBest(modelDir: string, currentStep: number): Promise<EvalResults | undefined> {
    if (this.eventDir === null) return undefined;
    const { events } = await readEventsDir(path.join(modelDir, this.eventDir));
    const byStep = new Map<number, Record<string, number>>();
    for (const e of events) {
      // The evaluation being exported was written just before export(): it is not "earlier".
      if (e.step === currentStep) continue;
      for (const v of e.summary?.value ?? []) {
        if (typeof v.simpleValue !== 'number') continue;
        const r = byStep.get(e.step) ?? {};
        r[v.tag] = v.simpleValue;
        byStep.set(e.step, r);
      }
    }
    const comparable = (r: EvalResults): boolean => {
      try {
        this.compareFn(r, r);
        return true;
      } catch {
        return false; // lacks the compared metric (another kind of summary)
      }
    };
    let best: EvalResults | undefined;
    for (const [step, r] of byStep) {
      const candidate = { ...r, globalStep: step } as EvalResults;
      if (comparable(candidate) && (!best || this.compareFn(best, candidate))) best = candidate;
    }
    return best;
  }
}
