// Checkpoints on disk. Each is a directory model.ckpt-<step>/ holding a tfjs weights manifest
// (weights.json + weights.bin) and meta.json (global step, sha256 of the weights). It is written
// under a temporary name, fsynced and renamed, then the `checkpoint` state file is replaced the
// same way: a process killed at any moment leaves the previous checkpoint loadable, and a
// temporary directory is never mistaken for a checkpoint.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as tf from '@tensorflow/tfjs';

export const STATE_FILE = 'checkpoint';
const PREFIX = 'model.ckpt-';
const FORMAT = 'tfjs-estimator-checkpoint-v1';

export interface CheckpointState {
  /** Relative path of the newest checkpoint, e.g. 'model.ckpt-1000'. */
  modelCheckpointPath: string;
  allModelCheckpointPaths: string[];
  allModelCheckpointTimestamps: number[];
}

export interface CheckpointMeta {
  format: string;
  globalStep: number;
  createdAt: number;
  weightsSha256: string;
  weightsBytes: number;
  variables: number;
  /** Names of trainable variables (warm start picks from these by default). */
  trainable?: string[];
}

/** A checkpoint or its state file is missing, unreadable or corrupt; `file` names it. */
export class CheckpointError extends Error {
  /** @param file the checkpoint file or directory at fault (also on `.file`). */
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** fsyncs a file or directory; where a directory can't be, the rename that follows is still atomic. */
export function fsyncPath(p: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Directories cannot be fsynced on every platform; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes and fsyncs a file (no rename: for files inside a temporary directory). */
export function writeFileDurable(file: string, data: Buffer | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a file via temp + fsync + rename, so readers see the old or the new content. */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    writeFileDurable(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPath(path.dirname(file));
}

export function checkpointName(step: number): string {
  return `${PREFIX}${step}`;
}

export function stepOfCheckpoint(p: string): number | undefined {
  const m = /model\.ckpt-(\d+)$/.exec(path.basename(p));
  return m ? Number(m[1]) : undefined;
}

export function readState(modelDir: string): CheckpointState | undefined {
  const file = path.join(modelDir, STATE_FILE);
  if (!fs.existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CheckpointError(
      `The checkpoint state file ${file} is corrupt (${(e as Error).message}). Delete it to fall back to the newest ` +
        `intact model.ckpt-* directory, or restore it from a backup.`,
      file,
    );
  }
  const s = parsed as Partial<CheckpointState>;
  if (typeof s.modelCheckpointPath !== 'string' || !Array.isArray(s.allModelCheckpointPaths)) {
    throw new CheckpointError(`The checkpoint state file ${file} is not a tfjs-estimator state file (missing modelCheckpointPath).`, file);
  }
  return {
    modelCheckpointPath: s.modelCheckpointPath,
    allModelCheckpointPaths: s.allModelCheckpointPaths,
    allModelCheckpointTimestamps: s.allModelCheckpointTimestamps ?? s.allModelCheckpointPaths.map(() => 0),
  };
}

/** Complete checkpoint directories in modelDir, oldest first (temporary ones are ignored). */
export function listCheckpointDirs(modelDir: string): string[] {
  if (!fs.existsSync(modelDir)) return [];
  return fs
    .readdirSync(modelDir)
    .filter((n) => /^model\.ckpt-\d+$/.test(n) && fs.existsSync(path.join(modelDir, n, 'meta.json')))
    .sort((a, b) => (stepOfCheckpoint(a) ?? 0) - (stepOfCheckpoint(b) ?? 0));
}

/** Absolute path of the newest checkpoint, or undefined when modelDir has none. A state file
 *  naming a folder that is there but lacks meta.json is damage, not absence: a CheckpointError
 *  (silently restoring an older checkpoint would take the global step back). */
export function latestCheckpoint(modelDir: string): string | undefined {
  const state = readState(modelDir);
  if (state) {
    const p = path.resolve(modelDir, state.modelCheckpointPath);
    if (fs.existsSync(path.join(p, 'meta.json'))) return p;
    if (fs.existsSync(p)) readMeta(p); // throws, naming the missing file
  }
  // No state file, or one naming a folder since deleted: the newest complete directory is the truth.
  const dirs = listCheckpointDirs(modelDir);
  return dirs.length ? path.join(modelDir, dirs[dirs.length - 1]) : undefined;
}

export function readMeta(ckptPath: string): CheckpointMeta {
  const file = path.join(ckptPath, 'meta.json');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new CheckpointError(
      `Checkpoint metadata ${file} is missing or corrupt: ${(e as Error).message}. Load an earlier checkpoint with ` +
        `checkpointPath, or call estimator.train/evaluate with {fallbackToPreviousCheckpoint: true}.`,
      file,
    );
  }
  if (meta.format !== FORMAT || typeof meta.globalStep !== 'number') {
    throw new CheckpointError(`${file} is not a tfjs-estimator checkpoint (format ${String(meta.format)}).`, file);
  }
  return meta;
}

export interface LoadedCheckpoint {
  path: string;
  meta: CheckpointMeta;
  tensors: tf.NamedTensorMap;
}

/** Loads and verifies a checkpoint; a truncated or bit-flipped one is a CheckpointError naming the file. */
export function loadCheckpoint(ckptPath: string): LoadedCheckpoint {
  const meta = readMeta(ckptPath);
  const manifestFile = path.join(ckptPath, 'weights.json');
  const binFile = path.join(ckptPath, 'weights.bin');
  let manifest: tf.io.WeightsManifestConfig;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as tf.io.WeightsManifestConfig;
  } catch (e) {
    throw new CheckpointError(`Checkpoint manifest ${manifestFile} is missing or corrupt: ${(e as Error).message}`, manifestFile);
  }
  let bin: Buffer;
  try {
    bin = fs.readFileSync(binFile);
  } catch (e) {
    throw new CheckpointError(`Checkpoint weights ${binFile} cannot be read: ${(e as Error).message}`, binFile);
  }
  const sha = crypto.createHash('sha256').update(bin).digest('hex');
  if (bin.length !== meta.weightsBytes || sha !== meta.weightsSha256) {
    throw new CheckpointError(
      `Checkpoint weights ${binFile} are corrupt (${bin.length} bytes, expected ${meta.weightsBytes}; checksum mismatch). ` +
        `Load an earlier checkpoint with checkpointPath, or call estimator.train/evaluate with {fallbackToPreviousCheckpoint: true}.`,
      binFile,
    );
  }
  const specs = manifest.flatMap((g) => g.weights);
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const tensors = tf.io.decodeWeights(buffer, specs);
  return { path: ckptPath, meta, tensors };
}

export interface SaveOptions {
  keepCheckpointMax: number;
  trainable?: string[];
}

/** Saves tensors as model.ckpt-<step>, updates the state file, prunes old checkpoints. */
export async function saveCheckpoint(modelDir: string, globalStep: number, tensors: tf.NamedTensorMap, opts: SaveOptions): Promise<string> {
  fs.mkdirSync(modelDir, { recursive: true });
  const name = checkpointName(globalStep);
  const finalDir = path.join(modelDir, name);
  const tmpDir = path.join(modelDir, `.${name}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bin = Buffer.from(data);
  const meta: CheckpointMeta = {
    format: FORMAT,
    globalStep,
    createdAt: Date.now() / 1000,
    weightsSha256: crypto.createHash('sha256').update(bin).digest('hex'),
    weightsBytes: bin.length,
    variables: specs.length,
    trainable: opts.trainable,
  };
  const manifest: tf.io.WeightsManifestConfig = [{ paths: ['weights.bin'], weights: specs }];
  try {
    fs.mkdirSync(tmpDir);
    writeFileDurable(path.join(tmpDir, 'weights.bin'), bin);
    writeFileDurable(path.join(tmpDir, 'weights.json'), JSON.stringify(manifest));
    // meta.json last: its presence marks a complete checkpoint.
    writeFileDurable(path.join(tmpDir, 'meta.json'), JSON.stringify(meta, null, 1));
    fsyncPath(tmpDir);
    if (fs.existsSync(finalDir)) {
      // Same step saved again (e.g. a final save right after a periodic one): swap it out.
      const old = `${tmpDir}.old`;
      fs.renameSync(finalDir, old);
      fs.renameSync(tmpDir, finalDir);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmpDir, finalDir);
    }
    fsyncPath(modelDir);
  } catch (e) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw new CheckpointError(
      `Could not save checkpoint ${finalDir}: ${(e as Error).message}. The previous checkpoint is intact.`,
      finalDir,
    );
  }
  updateState(modelDir, name, meta.createdAt, opts.keepCheckpointMax);
  return finalDir;
}

function updateState(modelDir: string, name: string, timestamp: number, keepMax: number): void {
  let previous: CheckpointState | undefined;
  try {
    previous = readState(modelDir);
  } catch {
    previous = undefined; // A corrupt state file is replaced by a good one.
  }
  // Without a readable state file the complete folders on disk are the history (so keepMax
  // still keeps the newest ones rather than only this one).
  const history = previous ?? { allModelCheckpointPaths: listCheckpointDirs(modelDir), allModelCheckpointTimestamps: [] as number[] };
  const paths = history.allModelCheckpointPaths.filter((p) => p !== name);
  const stamps = history.allModelCheckpointPaths
    .map((_, i) => history.allModelCheckpointTimestamps[i] ?? 0)
    .filter((_, i) => history.allModelCheckpointPaths[i] !== name);
  paths.push(name);
  stamps.push(timestamp);
  const keep = keepMax > 0 ? Math.max(1, keepMax) : paths.length;
  const state: CheckpointState = {
    modelCheckpointPath: name,
    allModelCheckpointPaths: paths.slice(-keep),
    allModelCheckpointTimestamps: stamps.slice(-keep),
  };
  writeFileAtomic(path.join(modelDir, STATE_FILE), JSON.stringify(state, null, 1));
  // Only after the new state is durable: delete every checkpoint folder it does not keep, not
  // only the ones it just dropped, so folders orphaned by a kill before an earlier sweep (and
  // half-deleted ones) go too. With keepCheckpointMax 0 (keep all) nothing is deleted.
  if (keepMax > 0) {
    const kept = new Set(state.allModelCheckpointPaths);
    for (const n of fs.readdirSync(modelDir)) {
      if (/^model\.ckpt-\d+$/.test(n) && !kept.has(n)) removeCheckpointDir(modelDir, n);
    }
  }
  removeStaleTemporaries(modelDir);
}

/** Renames the folder to a temporary name first: a kill mid-delete leaves a temporary that the
 *  next save sweeps, never a half-deleted folder under a checkpoint's name. */
function removeCheckpointDir(modelDir: string, name: string): void {
  const doomed = path.join(modelDir, `.${name}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}.del`);
  try {
    fs.renameSync(path.join(modelDir, name), doomed);
  } catch {
    return; // Already gone.
  }
  fs.rmSync(doomed, { recursive: true, force: true });
}

/** Temporary directories left by a killed process (not ours, process gone). */
function removeStaleTemporaries(modelDir: string): void {
  for (const n of fs.readdirSync(modelDir)) {
    const m = /^\.model\.ckpt-\d+\.tmp-(\d+)-/.exec(n) ?? /^checkpoint\.tmp-(\d+)-/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) fs.rmSync(path.join(modelDir, n), { recursive: true, force: true });
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Checkpoints to try in order: the newest first (the one the state file names, even when it is
 *  damaged, so that fallback reports what it skips), then older complete ones (for fallback). */
export function checkpointCandidates(modelDir: string): string[] {
  const dirs = listCheckpointDirs(modelDir)
    .map((d) => path.join(modelDir, d))
    .reverse();
  let latest: string | undefined;
  try {
    latest = latestCheckpoint(modelDir);
  } catch (e) {
    latest = e instanceof CheckpointError && path.basename(e.file) === 'meta.json' ? path.dirname(e.file) : undefined;
  }
  return latest ? [latest, ...dirs.filter((d) => d !== latest)] : dirs;
}
