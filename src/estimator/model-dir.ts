// Operating-system errors about the model directory, turned into errors that name the problem
// and the fix (a raw EEXIST from mkdir says neither).
import * as fs from 'fs';

const READ_ONLY = new Set(['EROFS', 'EACCES', 'EPERM']);
const FULL = new Set(['ENOSPC', 'EDQUOT']);

export function isReadOnlyError(e: unknown): boolean {
  return READ_ONLY.has((e as NodeJS.ErrnoException)?.code ?? '');
}

/** The error code when `dir` exists but cannot be written (a read-only mount, no permission). */
export function readOnlyCode(dir: string): string | undefined {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return READ_ONLY.has(code) ? code : undefined;
  }
}

/** A clear error for a failure creating or writing `file` in modelDir during `call`. */
export function modelDirError(e: unknown, modelDir: string, call: string, file?: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code ?? '';
  const what = file ? ` (${code} writing ${file})` : ` (${code})`;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    if (isFile(modelDir))
      return new Error(`${call}: modelDir ${modelDir} is a file, not a directory; pass a directory path (it is created if missing).`);
    return new Error(`${call}: modelDir ${modelDir} cannot be created: a part of its path is a file${what}.`);
  }
  if (READ_ONLY.has(code)) {
    return new Error(
      `${call}: modelDir ${modelDir} is read-only${what}; training writes checkpoints there. Use a writable modelDir; ` +
        `to continue from the checkpoints in this one, pass warmStartFrom: '${modelDir}'. evaluate() and predict() work on a read-only modelDir.`,
    );
  }
  if (FULL.has(code)) {
    return new Error(
      `${call}: no space left on the device of modelDir ${modelDir}${what}; free some space or use another modelDir. Nothing was written.`,
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** evaluate/predict: a modelDir that is a file is a clear error (train creates a missing one). */
export function checkModelDirReadable(modelDir: string, call: string): void {
  if (isFile(modelDir))
    throw new Error(`${call}: modelDir ${modelDir} is a file, not a directory; pass the directory train() wrote its checkpoints to.`);
}

function isFile(p: string): boolean {
  try {
    return !fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
