// One trainer per model directory. A second process training the same modelDir would
// interleave checkpoints; it gets a clear error instead. The lock file holds pid and host, so a
// lock left by a killed process is recognised as stale and taken over.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { processAlive } from './checkpoint';

const LOCK_FILE = '.train.lock';

export interface ModelDirLock {
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  since: number;
}

export function acquireTrainLock(modelDir: string): ModelDirLock {
  fs.mkdirSync(modelDir, { recursive: true });
  const file = path.join(modelDir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), since: Date.now() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(mine));
      fs.closeSync(fd);
      let released = false;
      return {
        release(): void {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: LockInfo | undefined;
    try {
      holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      holder = undefined; // Unreadable: its writer died between create and write.
    }
    const stale = !holder || (holder.host === mine.host && holder.pid !== process.pid && !processAlive(holder.pid));
    if (holder && holder.pid === process.pid && holder.host === mine.host) {
      throw new Error(
        `modelDir ${modelDir} is already being trained by this process (an earlier train() call has not finished); await it first.`,
      );
    }
    if (!stale) {
      throw new Error(
        `modelDir ${modelDir} is being trained by another process (pid ${holder!.pid} on ${holder!.host}, since ` +
          `${new Date(holder!.since).toISOString()}). Wait for it to finish, stop it, or use another modelDir. ` +
          `If that process is gone, delete ${file}.`,
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new Error(`Could not lock ${file}; another process keeps recreating it.`);
}
