// Keeps src/'s folders stacked (DESIGN.md, "Layout"): a folder imports only folders below it,
// and folders on one row never import each other in a circle. It reads every import of src/
// (static, `export ... from`, `import type`, dynamic `import()` and `require()`) with
// TypeScript's own pre-parser, so what it sees is what the compiler resolves.
// test/layering-allow.txt lists today's known breaks; each is to go with the restructuring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { packageRoot } from '../src/package-root';

/**
 * The stack, top row first. A unit is a folder of src/ or a file directly in it (without .ts):
 * src/cli.ts and src/cli/ are both `cli`. Units on one row may import each other, never in a circle.
 */
const STACK: string[][] = [
  ['cli'], // the command line: install, kernel, run
  ['kernel'], // the Jupyter kernel: protocol, cells, compiler
  ['index'], // the public API the kernel preloads
  ['display'],
  ['estimator'],
  ['layers', 'losses', 'metrics'],
  ['framework'],
  // Beside the stack: anything above may use them; they use only what is below them.
  ['data', 'events', 'host'],
  ['backend'],
  ['package-root'], // where the package lies on disk; imports nothing of the library
];

const rank = new Map(STACK.flatMap((row, i) => row.map((unit) => [unit, STACK.length - i] as const)));

const root = packageRoot();
const src = path.join(root, 'src');
const allowFile = path.join(root, 'test', 'layering-allow.txt');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The src/ file a relative specifier names, as TypeScript resolves it (x.ts, x/index.ts). */
function resolve(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find(
    (f) => f.startsWith(src + path.sep) && fs.existsSync(f) && fs.statSync(f).isFile(),
  );
}

function unitOf(file: string): string {
  const first = path.relative(src, file).split(path.sep)[0];
  return first.replace(/\.ts$/, '');
}

interface Edge {
  from: string; // path under src/, with forward slashes
  to: string;
}

/** Every import between two different units, file to file. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(src)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue; // a package, not ours
      const target = resolve(file, ref.fileName);
      if (!target || unitOf(target) === unitOf(file)) continue;
      const rel = (f: string): string => path.relative(src, f).split(path.sep).join('/');
      edges.push({ from: rel(file), to: rel(target) });
    }
  }
  return edges;
}

/** Circles among units of one row (circles through rows always contain an upward import, reported as such). */
function circles(edges: Edge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = unitOf(path.join(src, e.from));
    const b = unitOf(path.join(src, e.to));
    if (rank.get(a) !== rank.get(b)) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)!.add(b);
  }
  // Tarjan's strongly connected components; each with two or more units is a circle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(`circle: ${component.sort().join(' <-> ')}`);
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The allow-list's entries: `from -> to` lines and `circle: ...` lines; # starts a comment. */
function allowed(): string[] {
  return fs
    .readFileSync(allowFile, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

test('every folder and top-level file of src/ has a place in the stack', () => {
  const units = [...new Set(sourceFiles(src).map(unitOf))].sort();
  const missing = units.filter((u) => !rank.has(u));
  assert.deepEqual(
    missing,
    [],
    `src/ units not in the stack: ${missing.join(', ')}. Give each a row in STACK in test/layering.test.ts (and DESIGN.md's layout)`,
  );
});

test('the circle finder reports folders of one row that import each other, and not a one-way import', () => {
  const e = (from: string, to: string): Edge => ({ from, to });
  assert.deepEqual(circles([e('layers/a.ts', 'losses/b.ts'), e('losses/b.ts', 'metrics/c.ts'), e('metrics/c.ts', 'layers/d.ts')]), [
    'circle: layers <-> losses <-> metrics',
  ]);
  assert.deepEqual(circles([e('layers/a.ts', 'losses/b.ts'), e('data/x.ts', 'events/y.ts')]), []);
});

test('imports go only down the stack, with no circles between folders, apart from the known breaks in test/layering-allow.txt', () => {
  const edges = importEdges();
  assert.ok(edges.length > 50, `only ${edges.length} imports between folders found: is the import reader broken?`);
  const upward = edges
    .filter((e) => {
      const a = rank.get(unitOf(path.join(src, e.from)));
      const b = rank.get(unitOf(path.join(src, e.to)));
      return a !== undefined && b !== undefined && b > a;
    })
    .map((e) => `${e.from} -> ${e.to}`);
  const violations = [...new Set([...upward, ...circles(edges)])].sort();
  const known = allowed();
  // Printed every run, so the restructuring can see what is left.
  console.log(`layering: ${violations.length} known break(s) of the stack:\n${violations.map((v) => `  ${v}`).join('\n')}`);
  const fresh = violations.filter((v) => !known.includes(v));
  const stale = known.filter((k) => !violations.includes(k));
  assert.deepEqual(
    fresh,
    [],
    `new import(s) against the stack (${STACK.map((r) => r.join('/')).join(' > ')}): import only from lower rows; move the shared piece down instead`,
  );
  assert.deepEqual(stale, [], `test/layering-allow.txt lists break(s) that no longer occur: delete those lines`);
});
