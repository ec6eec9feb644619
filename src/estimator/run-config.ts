// RunConfig: how the Estimator saves, logs and seeds (tf.estimator.RunConfig, same defaults).

/** Options of `new RunConfig(opts)`; every field is optional and has tf.estimator's default. */
export interface RunConfigOptions {
  /** The model directory, when not given to the Estimator itself. */
  modelDir?: string;
  /** Seed for variable initializers and random ops (dropout, augmentation via data helpers). */
  randomSeed?: number;
  /** Save a checkpoint every N global steps. Mutually exclusive with saveCheckpointsSecs. */
  saveCheckpointsSteps?: number;
  /** Save a checkpoint every N seconds (default 600 when saveCheckpointsSteps is not set). */
  saveCheckpointsSecs?: number;
  /** Checkpoints to keep (default 5; 0 or null keeps all). */
  keepCheckpointMax?: number | null;
  /** Write summaries every N steps (default 100; 0 disables). */
  saveSummarySteps?: number;
  /** Log loss and global_step/sec every N steps (default 100). */
  logStepCountSteps?: number;
  /** Force a compute backend ('webgpu', 'native', 'wasm', 'cpu', 'tensorflow'); default: the best available. */
  backend?: string;
  /** Check the loss for NaN on every step (default true). */
  checkNan?: boolean;
  /**
   * Replay the recorded training step (default true; the environment variable
   * TFJS_ESTIMATOR_REPLAY=0 turns it off): once two steps in a row ran the same kernels, later
   * steps run them again without calling modelFn, as tf.estimator's graph runs without calling
   * model_fn again. Steps that write summaries still call modelFn.
   */
  replaySteps?: boolean;
}

/**
 * tf.estimator.RunConfig: how the Estimator checkpoints, writes summaries, logs, seeds and which
 * backend it uses. Defaults: a checkpoint every 600 s, keep 5, summaries and log lines every 100 steps.
 * @example new Estimator(modelFn, dir, { config: new RunConfig({ saveCheckpointsSteps: 500, randomSeed: 42 }) })
 */
export class RunConfig {
  /** The model directory (the Estimator's copy always has it). */
  readonly modelDir?: string;
  /** Seed for initializers and random ops; undefined: not seeded. */
  readonly randomSeed?: number;
  /** Checkpoint every N global steps (undefined when saving by time). */
  readonly saveCheckpointsSteps?: number;
  /** Checkpoint every N seconds (600 unless saveCheckpointsSteps is set). */
  readonly saveCheckpointsSecs?: number;
  /** Checkpoints kept (0 keeps all). */
  readonly keepCheckpointMax: number;
  /** Summaries every N steps (0: none). */
  readonly saveSummarySteps: number;
  /** Loss and steps/sec logged every N steps. */
  readonly logStepCountSteps: number;
  /** The forced compute backend, or undefined for the best available. */
  readonly backend?: string;
  /** Whether each step's loss is checked for NaN. */
  readonly checkNan: boolean;
  /** Whether a recorded training step is replayed without calling modelFn. */
  readonly replaySteps: boolean;

  /** Checks the options (non-negative counts, an integer seed, one save trigger) and applies the defaults. */
  constructor(opts: RunConfigOptions = {}) {
    if (opts.saveCheckpointsSteps != null && opts.saveCheckpointsSecs != null) {
      throw new Error('RunConfig: saveCheckpointsSteps and saveCheckpointsSecs are mutually exclusive; set only one of them.');
    }
    for (const key of [
      'saveCheckpointsSteps',
      'saveCheckpointsSecs',
      'saveSummarySteps',
      'logStepCountSteps',
      'keepCheckpointMax',
    ] as const) {
      const v = opts[key];
      if (v != null && (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))) {
        throw new Error(`RunConfig: ${key} must be a non-negative number, got ${String(v)}.`);
      }
    }
    if (opts.randomSeed != null && !Number.isInteger(opts.randomSeed)) {
      throw new Error(`RunConfig: randomSeed must be an integer, got ${String(opts.randomSeed)}.`);
    }
    this.modelDir = opts.modelDir;
    this.randomSeed = opts.randomSeed ?? undefined;
    this.saveCheckpointsSteps = opts.saveCheckpointsSteps ?? undefined;
    this.saveCheckpointsSecs = opts.saveCheckpointsSteps == null ? (opts.saveCheckpointsSecs ?? 600) : undefined;
    this.keepCheckpointMax = opts.keepCheckpointMax ?? 5;
    this.saveSummarySteps = opts.saveSummarySteps ?? 100;
    this.logStepCountSteps = opts.logStepCountSteps ?? 100;
    this.backend = opts.backend;
    this.checkNan = opts.checkNan ?? true;
    this.replaySteps = opts.replaySteps ?? process.env.TFJS_ESTIMATOR_REPLAY !== '0';
  }

  /** A copy with some fields replaced (tf's RunConfig.replace). */
  replace(opts: RunConfigOptions): RunConfig {
    const merged: RunConfigOptions = { ...this.toOptions(), ...opts };
    if (opts.saveCheckpointsSteps != null) merged.saveCheckpointsSecs = undefined;
    if (opts.saveCheckpointsSecs != null) merged.saveCheckpointsSteps = undefined;
    return new RunConfig(merged);
  }

  /** The settings as options, for `new RunConfig` or JSON. */
  toOptions(): RunConfigOptions {
    return {
      modelDir: this.modelDir,
      randomSeed: this.randomSeed,
      saveCheckpointsSteps: this.saveCheckpointsSteps,
      saveCheckpointsSecs: this.saveCheckpointsSteps == null ? this.saveCheckpointsSecs : undefined,
      keepCheckpointMax: this.keepCheckpointMax,
      saveSummarySteps: this.saveSummarySteps,
      logStepCountSteps: this.logStepCountSteps,
      backend: this.backend,
      checkNan: this.checkNan,
      replaySteps: this.replaySteps,
    };
  }
}
