// One EventFileWriter per log directory, shared by everything writing there (the summary
// hooks of train(), evaluate()'s results), like TF's SummaryWriterCache. A loop acquires the
// writer in begin and releases it in end; an unused writer stays open for a while, so that
// alternating train/evaluate calls append to one file per directory instead of one per call.
import * as fs from 'fs';
import * as path from 'path';
import { EventFileWriter } from '../../events/writer';

interface Entry {
  writer: EventFileWriter;
  users: number;
  closeTimer?: NodeJS.Timeout;
}

const writers = new Map<string, Entry>();
let lingerMs = 60_000;
let exitHookInstalled = false;

/** The shared writer for `logdir` (created on first use); pair every call with releaseWriter. */
export function acquireWriter(logdir: string): EventFileWriter {
  const key = path.resolve(logdir);
  let e = writers.get(key);
  // The directory was deleted (or the file removed) since: start a new file rather than
  // append to an unlinked one.
  if (e && (e.writer.closed || !fs.existsSync(e.writer.file))) {
    dropEntry(key, e);
    e = undefined;
  }
  if (!e) {
    e = { writer: new EventFileWriter(key), users: 0 };
    writers.set(key, e);
    installExitHook();
  }
  if (e.closeTimer) clearTimeout(e.closeTimer);
  e.closeTimer = undefined;
  e.users += 1;
  return e.writer;
}

/** Flushes (fsync) the writer; closes it lingerMs after its last user released it. */
export function releaseWriter(logdir: string): void {
  const key = path.resolve(logdir);
  const e = writers.get(key);
  if (!e) return;
  e.users = Math.max(0, e.users - 1);
  if (e.users > 0) {
    e.writer.flush();
    return;
  }
  if (lingerMs <= 0) {
    dropEntry(key, e);
    return;
  }
  e.writer.flush();
  e.closeTimer = setTimeout(() => dropEntry(key, e), lingerMs);
  e.closeTimer.unref();
}

/** Closes every cached writer now (tests, kernel shutdown); later acquires open new files. */
export function closeAllWriters(): void {
  for (const [key, e] of [...writers]) dropEntry(key, e);
}

/** How long an unused writer stays open (default 60 s; 0 closes it at once on release). */
export function setWriterLinger(ms: number): void {
  lingerMs = ms;
}

/** The file a directory's cached writer appends to, if one is open. */
export function openWriterFile(logdir: string): string | undefined {
  return writers.get(path.resolve(logdir))?.writer.file;
}

function dropEntry(key: string, e: Entry): void {
  if (e.closeTimer) clearTimeout(e.closeTimer);
  if (writers.get(key) === e) writers.delete(key);
  try {
    e.writer.close();
  } catch {
    // The file system went away under us (directory removed): nothing left to flush.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', closeAllWriters);
}
