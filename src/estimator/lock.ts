// One trainer per model directory. A second process training the same modelDir would
// interleave checkpoints; it gets a clear error instead.
//
// The lock file is never seen half-written: its content (pid, host, time, a nonce) goes into a
// temporary file first, which is then hard-linked to `.train.lock`; link() fails atomically when
// the lock exists. A lock is stale only when its pid is gone on this host. Taking over a stale
// lock is serialised by a second lock, `.train.lock.takeover`, made the same way: only its holder
// may delete `.train.lock`, after checking under it that the lock is still the stale one it saw.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { processAlive } from './checkpoint';
import { modelDirError } from './model-dir';

const LOCK_FILE = '.train.lock';
const TAKEOVER_FILE = '.train.lock.takeover';

export interface ModelDirLock {
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  since: number;
  nonce?: string;
}

export function acquireTrainLock(modelDir: string): ModelDirLock {
  try {
    fs.mkdirSync(modelDir, { recursive: true });
  } catch (e) {
    throw modelDirError(e, modelDir, 'train');
  }
  const file = path.join(modelDir, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), since: Date.now(), nonce: crypto.randomBytes(8).toString('hex') };
  removeDeadTemporaries(modelDir);
  const tmp = writeTemp(modelDir, mine);
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (tryLink(tmp, file)) {
        let released = false;
        return {
          release(): void {
            if (released) return;
            released = true;
            // Only our own lock: a user may have deleted it and another trainer taken it.
            const now = readLock(file);
            if (now !== undefined && now !== 'unreadable' && now.nonce === mine.nonce) fs.rmSync(file, { force: true });
          },
        };
      }
      const holder = readLock(file);
      if (holder === undefined) continue; // released between our link and read: try again
      if (holder !== 'unreadable') {
        if (holder.pid === process.pid && holder.host === mine.host) {
          throw new Error(
            `modelDir ${modelDir} is already being trained by this process (an earlier train() call has not finished); await it first.`,
          );
        }
        if (!isStale(holder)) throw busyError(modelDir, file, holder);
      }
      takeOverStale(modelDir, file, holder, tmp);
    }
    throw new Error(
      `Could not lock ${file}; other processes keep taking it over. Try again, or delete ${file} if no process trains ${modelDir}.`,
    );
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function isStale(h: LockInfo): boolean {
  return h.host === os.hostname() && !processAlive(h.pid);
}

function busyError(modelDir: string, file: string, holder: LockInfo): Error {
  return new Error(
    `modelDir ${modelDir} is being trained by another process (pid ${holder.pid} on ${holder.host}, since ` +
      `${new Date(holder.since).toISOString()}). Wait for it to finish, stop it, or use another modelDir. ` +
      `If that process is gone, delete ${file}.`,
  );
}

/** Writes the lock's content to a fresh temporary file; a full or read-only disk is a clear
 *  error and leaves nothing behind. */
function writeTemp(modelDir: string, info: LockInfo): string {
  const tmp = path.join(modelDir, `${LOCK_FILE}.${process.pid}-${info.nonce}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeSync(fd, JSON.stringify(info));
    fs.closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw modelDirError(e, modelDir, 'train', LOCK_FILE);
  }
}

/** Temporary lock files of processes killed while locking (ours are removed as we go). */
function removeDeadTemporaries(modelDir: string): void {
  for (const n of fs.readdirSync(modelDir)) {
    const m = /^\.train\.lock(?:\.takeover)?\.(\d+)-[0-9a-f]+\.(?:tmp|dead)$/.exec(n);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(modelDir, n), { force: true });
    } catch {
      // A read-only modelDir: the lock's own error says so.
    }
  }
}

function tryLink(from: string, to: string): boolean {
  try {
    fs.linkSync(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
      throw new Error(
        `train: the file system of ${path.dirname(to)} does not support hard links (${code}), which the training lock needs ` +
          `to be atomic; use a modelDir on a local disk (ext4, xfs, btrfs, tmpfs, NFS all work).`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** The lock's holder; undefined when there is no lock; 'unreadable' for a file this scheme
 *  never writes (an empty or foreign one, e.g. from an older version). */
function readLock(file: string): LockInfo | 'unreadable' | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    if (typeof v.pid === 'number' && typeof v.host === 'string') return v;
  } catch {
    // fall through
  }
  return 'unreadable';
}

function sameLock(a: LockInfo | 'unreadable' | undefined, b: LockInfo | 'unreadable'): boolean {
  if (a === undefined) return false;
  if (a === 'unreadable' || b === 'unreadable') return a === b;
  return a.pid === b.pid && a.host === b.host && a.since === b.since && a.nonce === b.nonce;
}

/** Deletes the stale lock `seen`, if it is still the lock, under the takeover lock. Whoever then
 *  links first (this process or any other) holds the model directory. */
function takeOverStale(modelDir: string, file: string, seen: LockInfo | 'unreadable', tmp: string): void {
  const takeover = path.join(modelDir, TAKEOVER_FILE);
  if (!tryLink(tmp, takeover)) {
    const other = readLock(takeover);
    // A takeover in progress by a live process finishes within milliseconds: let it.
    if (other !== undefined && (other === 'unreadable' || !isStale(other))) return sleep(5);
    removeDeadTakeover(modelDir, takeover, other);
    return;
  }
  try {
    if (sameLock(readLock(file), seen)) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(takeover, { force: true });
  }
}

/** A takeover lock whose holder died mid-takeover (a kill in a window of microseconds): moved
 *  aside under a unique name, and put back if what was moved is not the dead one. */
function removeDeadTakeover(modelDir: string, takeover: string, dead: LockInfo | undefined): void {
  if (dead === undefined) return; // already gone
  const aside = path.join(modelDir, `${TAKEOVER_FILE}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.dead`);
  try {
    fs.renameSync(takeover, aside);
  } catch {
    return; // someone else moved it
  }
  if (!sameLock(readLock(aside), dead)) tryLink(aside, takeover);
  fs.rmSync(aside, { force: true });
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
