// The cell converter on its own, with the real TypeScript the kernel runs: what cells declare
// reaches later cells (types and values), redeclaring works, the last expression is captured,
// top-level await is recognised, errors point into the cell, and local modules compile (again
// when they change). The kernel tests run the same converter through Jupyter.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type * as TS from 'typescript';
import { requireTypeScript } from '../src/kernel/compiler/tslab-adapter';
import { CellConverter, ConvertResult } from '../src/kernel/cells/cell-converter';
import { topLevelNames } from '../src/kernel/cells/cell-names';
import { CellPositions } from '../src/kernel/cells/cell-positions';
import * as vm from 'vm';
import * as os from 'os';

const ts: typeof TS = requireTypeScript();

/** Runs cells the way the kernel does: one shared `exports`, modules from the notebook folder. */
class Notebook {
  decl = '';
  readonly exports: Record<string, unknown> = {};
  private readonly side = new Map<string, string>();
  constructor(readonly converter: CellConverter) {}

  convert(src: string): ConvertResult {
    return this.converter.convert(this.decl, src);
  }

  async run(src: string): Promise<unknown> {
    const r = this.convert(src);
    if (r.diagnostics.length)
      throw new Error(
        r.diagnostics
          .map((d) => `${d.fileName ?? 'cell'}:${d.start.line + 1}:${d.start.character + 1} TS${d.code} ${d.messageText}`)
          .join('\n'),
      );
    for (const s of r.sideOutputs ?? []) this.side.set(s.path, s.data);
    const req = (id: string): unknown => {
      const file = path.resolve(this.converter.rootDir, id).replace(/\.ts$/, '') + '.js';
      const js = this.side.get(file);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the cell's own require, as the kernel gives it
      if (js === undefined) return require(id.startsWith('.') ? path.resolve(this.converter.rootDir, id) : id);
      const mod = { exports: {} as Record<string, unknown> };
      new Function('exports', 'require', 'module', js)(mod.exports, req, mod);
      return mod.exports;
    };
    const body = r.hasToplevelAwait ? `return (async () => {\n${r.output}\n})()` : r.output!;
    await new Function('exports', 'require', body)(this.exports, req);
    this.decl = r.declOutput ?? '';
    if (!r.lastExpressionVar) return undefined;
    const v = this.exports[r.lastExpressionVar];
    delete this.exports[r.lastExpressionVar];
    return v;
  }

  errors(src: string): string[] {
    return this.convert(src).diagnostics.map((d) => `${d.fileName ?? 'cell'}:${d.start.line + 1}:${d.start.character + 1} TS${d.code}`);
  }
}

let dir: string;
let nb: Notebook;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cell-converter-'));
  nb = new Notebook(new CellConverter(ts, dir));
});

test('what a cell declares reaches later cells, as values and as types', async () => {
  assert.equal(await nb.run('const a = 2; let b = a * 3'), undefined);
  assert.equal(await nb.run('a + b'), 8);
  await nb.run(
    'function twice(x: number) { return 2 * x }\nclass Box { constructor(public v: number) {} }\ninterface Shape { w: number }\ntype Id = string\nenum Color { Red, Green }',
  );
  assert.equal(
    await nb.run('const s: Shape = { w: twice(b) }; const id: Id = "x"; [s.w, new Box(a).v, Color.Green, id]').then(JSON.stringify),
    '[12,2,1,"x"]',
  );
  await nb.run('const { p, q: [r] } = { p: 1, q: [5] }; var v = 7');
  assert.equal(await nb.run('p + r + v'), 13);
  // Assignments and shorthand properties reach the shared value.
  await nb.run('b = 10; ({ b } = { b: 11 })');
  assert.equal(await nb.run('({ a, b })').then(JSON.stringify), '{"a":2,"b":11}');
  assert.deepEqual(nb.errors('const n: number = s.w + "x"'), ['cell:1:7 TS2322']);
});

test('redeclaring a name replaces it; other meanings of the name stay', async () => {
  await nb.run('interface Pair { x: number }\nconst Pair = 3');
  await nb.run('const Pair = "three"');
  assert.equal(await nb.run('const pp: Pair = { x: 1 }; Pair.length + pp.x'), 6);
  await nb.run('class Old { hi() { return "old" } }');
  await nb.run('type Old = number');
  // The class's value is still there (typed any); its type is the new alias.
  assert.equal(await nb.run('const o: Old = 4; new Old().hi() + o'), 'old4');
  await nb.run('let a = "now a string"');
  assert.equal(await nb.run('a.toUpperCase()'), 'NOW A STRING');
  // A cell may export what it declares itself; later cells see it, and may redeclare it.
  await nb.run('export const shared = 5; export function triple(n: number) { return 3 * n }');
  assert.equal(await nb.run('triple(shared)'), 15);
  await nb.run('const shared = "five"');
  assert.equal(await nb.run('shared.length'), 4);
});

test('the last expression is the value; comma, await and for await work; await inside a plain function is an error', async () => {
  assert.equal(await nb.run('[1].pop(), 2'), 2);
  assert.equal(await nb.run('const later = await Promise.resolve(41); later + 1'), 42);
  assert.equal(await nb.run('let total = 0\nfor await (const v of [1, 2, 3]) total += v\ntotal'), 6);
  assert.equal(await nb.run('const tsLastExpr = 5; tsLastExpr * 2'), 10);
  // The value's key on exports never clobbers a variable of that name.
  assert.equal(await nb.run('tsLastExpr + 1'), 6);
  assert.equal(await nb.run('tsLastExpr'), 5);
  assert.equal(await nb.run('const z = 1;'), undefined);
  assert.deepEqual(nb.errors('function f() {\n  await 1\n}'), ['cell:2:3 TS1308']);
});

test('errors point at the cell line and column; syntax errors stop before type-checking', () => {
  assert.deepEqual(nb.errors('const ok = 1\nconst bad: string = ok\n'), ['cell:2:7 TS2322']);
  assert.deepEqual(nb.errors('const = 3'), ['cell:1:7 TS1134', 'cell:1:9 TS1134']);
  assert.deepEqual(nb.errors('qqzzqq + 1'), ['cell:1:1 TS2304']);
});

test('npm packages and local .ts modules import; a changed module is compiled again; its errors name the file', async () => {
  fs.writeFileSync(path.join(dir, 'helper.ts'), 'export function greet(n: string): string { return `hi ${n}` }\n');
  assert.equal(await nb.run('import { greet } from "./helper"\ngreet("ann")'), 'hi ann');
  assert.equal(await nb.run('import * as os from "os"; typeof os.cpus'), 'function');
  // Another mtime and size: the converter reads and emits the module again.
  fs.writeFileSync(path.join(dir, 'helper.ts'), 'export function greet(n: string): string { return `hello ${n}` }\n');
  const r = nb.convert('import { greet as g2 } from "./helper"\ng2("bob")');
  assert.equal(r.sideOutputs?.length, 1);
  assert.match(r.sideOutputs![0].data, /hello/);
  assert.equal(nb.convert('greet("x")').sideOutputs, undefined, 'an unchanged module is not emitted again');
  // Plain JavaScript (ES module syntax) and JSON next to the notebook import too.
  fs.writeFileSync(path.join(dir, 'util.js'), 'export function add(a, b) { return a + b }\n');
  fs.writeFileSync(path.join(dir, 'config.json'), '{ "rate": 0.5 }\n');
  assert.equal(await nb.run('import { add } from "./util"\nimport config from "./config.json"\nadd(config.rate, 1)'), 1.5);
  fs.writeFileSync(path.join(dir, 'helper.ts'), 'export const broken: number = "no"\n');
  assert.deepEqual(nb.errors('import * as h from "./helper"'), ['helper.ts:1:14 TS2322']);
});

test('the names a cell declares: every top-level declaration and binding (exported or not), nothing nested', () => {
  const cells: Array<[string, string[]]> = [
    ['const a = 1, { b, c: [d, , e] } = f()', ['a', 'b', 'd', 'e']],
    ['var v = 1; for (var i = 0; i < 2; i++) {} if (x) { var w = 2; let notMe = 3 }', ['v']],
    [
      'function g() { var inner = 1 } class K {} enum E { A } interface I {} type T = 1; namespace N { export const q = 1 }',
      ['g', 'K', 'E', 'I', 'T', 'N'],
    ],
    ['import def, { n1, n2 as n3 } from "m"; import * as ns from "m2"; import eq = ns.x; import "side"', ['def', 'n1', 'n3', 'ns', 'eq']],
    ['declare module "ambient" {} declare global { interface Window {} } label: for (;;) break label', []],
    [
      'export const already = 1; let exported = 2; function over(a: string): void; function over(a: number): void; function over(a: unknown) {}',
      ['already', 'exported', 'over'],
    ],
  ];
  for (const [src, names] of cells) {
    const sf = ts.createSourceFile('cell.ts', src, ts.ScriptTarget.ES2022);
    assert.deepEqual(
      topLevelNames(ts, sf).map((d) => d.name),
      names,
      src,
    );
  }
});

test('runtime errors map back to the line and column the user wrote, through the source map', () => {
  const src = [
    'const xs: number[] = [1, 2]',
    'function boom(n: number): number {',
    "  if (n > 1) throw new Error('too big: ' + n)",
    '  return n',
    '}',
    'xs.map(boom)',
  ].join('\n');
  const r = new CellConverter(ts, dir).convert('', src);
  assert.ok(r.sourceMap, 'a source map comes with the output');
  assert.doesNotMatch(r.output!, /sourceMappingURL/);
  let stack = '';
  try {
    vm.runInThisContext(`(function(exports, require) {\n${r.output}\n})`, { filename: '<cell 1>', lineOffset: -1 })({}, require);
  } catch (e) {
    stack = (e as Error).stack ?? '';
  }
  const [line, col] = /<cell 1>:(\d+):(\d+)/.exec(stack)!.slice(1).map(Number);
  assert.deepEqual(new CellPositions(src, r.output!, r.sourceMap).map(line, col), { line: 3, column: 20 }, '`new Error` in boom');
  const [, callLine, callCol] = /<cell 1>:(\d+):(\d+)[^]*?<cell 1>:(\d+):(\d+)/.exec(stack)!.slice(2).map(Number);
  assert.equal(new CellPositions(src, r.output!, r.sourceMap).map(callLine, callCol).line, 6, 'the xs.map call');
});
