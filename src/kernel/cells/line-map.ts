// Maps positions in the JavaScript a cell became back to the TypeScript the user wrote, for
// tracebacks, where the source map does not reach (cell-positions.ts): code the compiler added.
// The output differs from the source only in predictable ways: type annotations gone, declarations followed by `exports.x = x;`,
// the last expression assigned to a variable, statements reformatted. So the two are aligned
// line by line (an LCS-like alignment where a line matches when, without whitespace, one is a
// subsequence of the other, and one source line may give several output lines), and a column
// is found by looking for the same word in the matched line.

export interface SourcePosition {
  /** 1-based, as in stack traces. */
  line: number;
  column: number;
}

/** Above this many line pairs, alignment is skipped (positions are left as they are). */
const MAX_PAIRS = 4_000_000;

function squash(line: string): string {
  return line.replace(/\s+/g, '');
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (let j = 0; j < long.length && i < short.length; j++) if (long[j] === short[i]) i++;
  return i === short.length;
}

/** How well an output line stands for a source line: 3 same, 2 one inside the other, 0 not. */
function score(out: string, src: string): number {
  if (!out || !src) return 0;
  if (out === src) return 3;
  // Short lines ('}', ');') match too much to be trusted unless identical.
  if (Math.min(out.length, src.length) < 3) return 0;
  return isSubsequence(out, src) || isSubsequence(src, out) ? 2 : 0;
}

export class LineMap {
  private readonly srcLines: string[];
  private readonly outLines: string[];
  /** For each output line (0-based), the source line it came from (0-based), or -1. */
  private readonly toSource: Int32Array;

  constructor(src: string, out: string) {
    this.srcLines = src.split('\n');
    this.outLines = out.split('\n');
    this.toSource = new Int32Array(this.outLines.length).fill(-1);
    const n = this.outLines.length;
    const m = this.srcLines.length;
    if (n * m > MAX_PAIRS) return;
    const o = this.outLines.map(squash);
    const s = this.srcLines.map(squash);
    // best[i][j]: best total score aligning o[i..] with s[j..].
    const best = new Int32Array((n + 1) * (m + 1));
    const at = (i: number, j: number) => i * (m + 1) + j;
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        const sc = score(o[i], s[j]);
        // A source line may become several output lines (`if (c) throw e;` prints as two), so a
        // match may keep its source line for the next output line.
        best[at(i, j)] = Math.max(
          best[at(i + 1, j)],
          best[at(i, j + 1)],
          sc > 0 ? sc + Math.max(best[at(i + 1, j + 1)], best[at(i + 1, j)]) : 0,
        );
      }
    }
    for (let i = 0, j = 0; i < n && j < m;) {
      const sc = score(o[i], s[j]);
      if (sc > 0 && best[at(i, j)] === sc + best[at(i + 1, j + 1)]) {
        this.toSource[i] = j;
        i++;
        j++;
      } else if (sc > 0 && best[at(i, j)] === sc + best[at(i + 1, j)]) {
        this.toSource[i] = j;
        i++;
      } else if (best[at(i + 1, j)] >= best[at(i, j + 1)]) i++;
      else j++;
    }
  }

  /** The source position of a 1-based output position; unmatched lines take the nearest matched line above. */
  map(line: number, column: number): SourcePosition {
    let i = line - 1;
    while (i >= 0 && (i >= this.toSource.length || this.toSource[i] < 0)) i--;
    if (i < 0) return { line, column };
    const srcLine = this.toSource[i];
    const src = this.srcLines[srcLine] ?? '';
    if (i !== line - 1) return { line: srcLine + 1, column: firstColumn(src) };
    return { line: srcLine + 1, column: matchColumn(this.outLines[i] ?? '', column, src) };
  }
}

function firstColumn(line: string): number {
  const m = /\S/.exec(line);
  return (m ? m.index : 0) + 1;
}

/** Where the word at `column` of `out` sits in `src`: the occurrence nearest the same relative place. */
function matchColumn(out: string, column: number, src: string): number {
  const rest = out.slice(column - 1);
  const word = /^[\w$.]+|^\S+/.exec(rest)?.[0];
  if (!word) return firstColumn(src);
  const candidates: number[] = [];
  for (let k = src.indexOf(word); k >= 0; k = src.indexOf(word, k + 1)) candidates.push(k);
  if (!candidates.length) {
    // `exports.x` in the output is `x` in the source.
    const bare = word.replace(/^exports\./, '');
    if (bare !== word) return matchColumn(bare + out.slice(column - 1 + word.length), 1, src);
    return firstColumn(src);
  }
  const want = ((column - 1) / Math.max(1, out.length)) * src.length;
  candidates.sort((a, b) => Math.abs(a - want) - Math.abs(b - want));
  return candidates[0] + 1;
}
