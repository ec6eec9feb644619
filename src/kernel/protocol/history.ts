// Execution history for history_request (tail, range, search), kept per session in memory and
// appended to a file so a restarted kernel can still answer `tail` about earlier sessions.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

type Entry = [number, number, string]; // session, line, input

export interface HistoryQuery {
  hist_access_type?: string;
  output?: boolean;
  session?: number;
  start?: number;
  stop?: number;
  n?: number;
  pattern?: string;
  unique?: boolean;
}

function historyFile(): string {
  const base = process.env.JUPYTER_DATA_DIR ?? path.join(os.homedir(), '.local', 'share', 'jupyter');
  return path.join(base, 'tfjs-estimator', 'history.jsonl');
}

export class History {
  private readonly entries: Entry[] = [];
  private readonly sessionNumber: number;
  private readonly file = historyFile();
  private unsaved: Entry[] = [];

  constructor(_sessionId: string) {
    const old = this.load();
    this.entries.push(...old);
    this.sessionNumber = old.reduce((m, e) => Math.max(m, e[0]), 0) + 1;
  }

  private load(): Entry[] {
    try {
      return fs
        .readFileSync(this.file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .slice(-10000)
        .map((l) => JSON.parse(l) as Entry)
        .filter((e) => Array.isArray(e) && e.length === 3);
    } catch {
      return [];
    }
  }

  add(line: number, input: string): void {
    const e: Entry = [this.sessionNumber, line, input];
    this.entries.push(e);
    this.unsaved.push(e);
    if (this.unsaved.length >= 20) void this.save();
  }

  async save(): Promise<void> {
    if (!this.unsaved.length) return;
    const lines = this.unsaved.map((e) => JSON.stringify(e)).join('\n') + '\n';
    this.unsaved = [];
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, lines);
    } catch {
      // History is a convenience; a read-only home must not break the kernel.
    }
  }

  query(q: HistoryQuery): Array<Entry | [number, number, [string, null]]> {
    let result: Entry[] = [];
    const type = q.hist_access_type ?? 'tail';
    if (type === 'tail') {
      result = this.entries.slice(-Math.max(0, q.n ?? 10));
    } else if (type === 'range') {
      const session = q.session === undefined || q.session <= 0 ? this.sessionNumber + (q.session ?? 0) : q.session;
      result = this.entries.filter(
        (e) => e[0] === session && e[1] >= (q.start ?? 0) && (q.stop === undefined || q.stop === null || e[1] < q.stop),
      );
    } else if (type === 'search') {
      const re = globToRegExp(q.pattern ?? '*');
      result = this.entries.filter((e) => re.test(e[2]));
      if (q.unique) {
        const seen = new Set<string>();
        result = result
          .reverse()
          .filter((e) => (seen.has(e[2]) ? false : (seen.add(e[2]), true)))
          .reverse();
      }
      if (q.n) result = result.slice(-q.n);
    }
    return q.output ? result.map((e) => [e[0], e[1], [e[2], null]]) : result;
  }
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's');
}
