// Where the kernel keeps what it derives once and reuses at every start (the library's type
// bundle, Node's types without doc comments, V8's compiled code of TypeScript): beside the
// package when it is writable, else the user's cache folder.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { compiledRoot as distRoot } from '../../package-root';

export function cacheDirCandidates(): string[] {
  const cache = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return [
    path.join(distRoot, 'kernel-cache'),
    path.join(cache, 'tfjs-estimator', 'kernel-cache'),
    path.join(os.tmpdir(), `tfjs-estimator-kernel-cache-${process.getuid?.() ?? 0}`),
  ];
}

let chosen: string | undefined;

/** The first candidate folder that exists or can be created, and is writable. */
export function kernelCacheDir(): string {
  if (chosen) return chosen;
  const errors: string[] = [];
  for (const dir of cacheDirCandidates()) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
      return (chosen = dir);
    } catch (e) {
      errors.push(`${dir}: ${(e as Error).message}`);
    }
  }
  throw new Error(`No writable folder for the kernel's cache (${errors.join('; ')}). Set XDG_CACHE_HOME to a writable folder.`);
}

/** Writes under a temporary name and renames: a concurrent kernel never reads half a file. */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
