// Export directories: exportDirBase/<unix seconds>/, written under a temporary name, fsynced and
// renamed, so a reader (or a crash) never sees half an export. Two exports in the same second
// take the next free second instead of waiting, so names stay unique and sort by age.
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { fsyncPath, processAlive, writeFileDurable } from '../checkpoint';

const TEMP_PREFIX = 'temp-';

/** Timestamped export directories in exportDirBase, oldest first. */
export function listExports(exportDirBase: string): string[] {
  if (!fs.existsSync(exportDirBase)) return [];
  return fs
    .readdirSync(exportDirBase)
    .filter((n) => /^\d+$/.test(n) && fs.existsSync(path.join(exportDirBase, n, 'model.json')))
    .sort((a, b) => Number(a) - Number(b))
    .map((n) => path.join(exportDirBase, n));
}

/** Writes files into a new exportDirBase/<timestamp>/ atomically; returns its path. */
export function writeTimestampedDir(exportDirBase: string, files: Record<string, Buffer | string>): string {
  fs.mkdirSync(exportDirBase, { recursive: true });
  removeStaleTemporaries(exportDirBase);
  const newest = listExports(exportDirBase).map((p) => Number(path.basename(p)));
  let stamp = Math.max(Math.floor(Date.now() / 1000), newest.length ? newest[newest.length - 1] + 1 : 0);
  const tmp = path.join(exportDirBase, `${TEMP_PREFIX}${stamp}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) writeFileDurable(path.join(tmp, name), data);
    fsyncPath(tmp);
    for (;;) {
      const target = path.join(exportDirBase, String(stamp));
      if (!fs.existsSync(target)) {
        try {
          fs.renameSync(tmp, target);
          fsyncPath(exportDirBase);
          return target;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
        }
      }
      stamp += 1; // another export took this second
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`Could not write the export to ${exportDirBase}: ${(e as Error).message}`, { cause: e });
  }
}

/** Keeps the newest `keep` exports in exportDirBase and deletes the others; returns the deleted. */
export function keepNewestExports(exportDirBase: string, keep: number): string[] {
  const all = listExports(exportDirBase);
  const doomed = all.slice(0, Math.max(0, all.length - keep));
  for (const d of doomed) fs.rmSync(d, { recursive: true, force: true });
  return doomed;
}

/** Temporary directories left by a process that died mid-export. */
function removeStaleTemporaries(exportDirBase: string): void {
  for (const n of fs.readdirSync(exportDirBase)) {
    const m = /^temp-\d+-(\d+)-/.exec(n);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) {
      fs.rmSync(path.join(exportDirBase, n), { recursive: true, force: true });
    }
  }
}
