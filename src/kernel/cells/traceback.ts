// A runtime error as the user should read it: the message, then the user's own frames (cell
// positions already mapped to the TypeScript they wrote) each with its source line, and the
// library's and Node's frames folded into one line. V8's stack holds the message too (and a
// message changed after the error was made, as the Estimator does to say where modelFn failed,
// would show twice); only its frames are read here.

export interface TracebackInput {
  name: string;
  message: string;
  /** e.stack with cell positions mapped to TypeScript positions. */
  stack: string;
  /** The TypeScript source of a cell by its name (`<cell 3>`), if the kernel still has it. */
  sourceOf: (cell: string) => string | undefined;
}

const FRAME = /^\s*at (?:async )?(?:(.*?) \()?((?:<cell \d+>|<prelude>)|[^()]*?):(\d+):(\d+)\)?$/;
const KERNEL = /node:internal|[\\/]src[\\/]kernel[\\/]|[\\/]dist[\\/]src[\\/]kernel[\\/]/;

interface Frame {
  text: string;
  fn?: string;
  file: string;
  line: number;
  column: number;
}

function parseFrames(stack: string): Frame[] {
  const out: Frame[] = [];
  for (const raw of stack.split('\n')) {
    if (!/^\s+at /.test(raw)) continue;
    const m = FRAME.exec(raw);
    const text = raw.trim();
    if (!m) {
      out.push({ text, file: '', line: 0, column: 0 });
      continue;
    }
    out.push({ text, fn: m[1], file: m[2], line: Number(m[3]), column: Number(m[4]) });
  }
  // The same position twice in a row (a cell's async wrapper and its body) reads as one.
  return out.filter((f, i) => i === 0 || f.text.replace(/^at async /, 'at ') !== out[i - 1].text.replace(/^at async /, 'at '));
}

function isCell(f: Frame): boolean {
  return /^<cell \d+>$/.test(f.file);
}

/** The bold header, each cell frame with its line and a caret, and one line for the rest. */
export function formatTraceback(t: TracebackInput): string[] {
  const lines = [`\x1b[31m${t.name}\x1b[0m: ${t.message}`];
  const frames = parseFrames(t.stack);
  let library = 0;
  let node = 0;
  const libraryFiles = new Set<string>();
  let lastCell: Frame | undefined;
  for (const f of frames) {
    if (isCell(f)) {
      // A call and the cell's own wrapper on the same line read as one place.
      if (lastCell && lastCell.file === f.file && lastCell.line === f.line) continue;
      lastCell = f;
      lines.push(
        `\x1b[1m  at ${f.fn && f.fn !== '<anonymous>' ? `${f.fn.replace(/^(Object|Estimator)\./, '')} (${f.file}:${f.line}:${f.column})` : `${f.file}:${f.line}:${f.column}`}\x1b[0m`,
      );
      const src = t.sourceOf(f.file)?.split('\n')[f.line - 1];
      if (src !== undefined && src.trim()) {
        const indent = src.length - src.trimStart().length;
        lines.push(`      ${src.trim()}`);
        if (f.column - 1 >= indent) lines.push(`      ${' '.repeat(f.column - 1 - indent)}^`);
      }
    } else if (KERNEL.test(f.text) || /^node:|\(node:/.test(f.file) || f.file.startsWith('node:')) {
      node++;
    } else if (f.file) {
      library++;
      const pkg = /node_modules[\\/](@[^\\/]+[\\/][^\\/]+|[^\\/]+)/.exec(f.file)?.[1]?.replace(/\\/g, '/');
      libraryFiles.add(pkg ?? (/[\\/](src|dist)[\\/]/.test(f.file) ? 'tfjs-estimator' : (f.file.split(/[\\/]/).pop() ?? f.file)));
    } else {
      node++;
    }
  }
  const folded: string[] = [];
  if (library) folded.push(`${library} in ${[...libraryFiles].join(', ')}`);
  if (node) folded.push(`${node} in Node and the kernel`);
  if (folded.length) lines.push(`\x1b[2m  (${folded.join('; ')}: frames hidden)\x1b[0m`);
  if (!frames.some(isCell) && library) {
    // Nothing of the user's own: show where the library failed, briefly, so it can be reported.
    const first = frames.find((f) => !KERNEL.test(f.text) && f.file && !f.file.startsWith('node:'));
    if (first) lines.push(`\x1b[2m  first library frame: ${first.text}\x1b[0m`);
  }
  return lines;
}
