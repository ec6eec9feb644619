// Runs TypeScript cells. The cell converter, in the compiler thread (compiler-client.ts), does
// the TypeScript work (type-checking against the declarations of earlier cells, transpiling,
// completion, hover info); running the result, capturing the last expression, and turning
// failures into Jupyter errors that point at the user's cell is ours, so errors are structured
// rather than printed.
import { explainDiagnostic } from '../compiler/diagnostic-hints';
import { formatTraceback } from './traceback';
import { resetPlotlyLibrary } from '../../display/plotly';
import { asKeyboardInterrupt, KeyboardInterrupt } from '../../host/interrupt';
import * as path from 'path';
import * as util from 'util';
import * as vm from 'vm';
import { CellPositions } from './cell-positions';
import Module from 'module';
import type { CellDiagnostic } from './cell-converter';
import { CompilerClient, ConvertResult, CompletionResult, CompletenessStatus } from '../compiler/compiler-client';

export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type CellOutcome = { ok: true; hasValue: boolean; value?: unknown } | { ok: false; error: CellError };

export type { CompletionResult };

interface Runtime {
  exports: Record<string, unknown>;
  require: NodeRequire;
}

const RUNTIME_GLOBAL = '__tfjs_estimator_kernel__';

export class CellExecutor {
  private prevDecl = '';
  private readonly exports: Record<string, unknown>;
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, Module>();
  private cancel?: (e: Error) => void;

  constructor(
    readonly rootDir: string,
    private readonly compiler: CompilerClient,
  ) {
    const store: Record<string, unknown> = {};
    // TypeScript emits Object.defineProperty(exports, ...) for imports: keep them writable.
    this.exports = new Proxy(store, {
      defineProperty: (_t, prop, attrs) => {
        if (prop !== '__esModule') store[prop as string] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    const runtime: Runtime = {
      exports: this.exports,
      require: this.makeRequire(Module.createRequire(path.join(rootDir, '__notebook__.js')), rootDir),
    };
    (globalThis as Record<string, unknown>)[RUNTIME_GLOBAL] = runtime;
  }

  /** require() that also serves local .ts files compiled by the converter. */
  private makeRequire(base: NodeRequire, dir: string): NodeRequire {
    const fromSide = (id: string): unknown => {
      if (!id.startsWith('.') && !path.isAbsolute(id)) return undefined;
      let file = path.resolve(dir, id);
      if (path.extname(file) === '' || path.extname(file) === '.ts') file = file.replace(/\.ts$/, '') + '.js';
      const cached = this.sideModules.get(file);
      if (cached) return cached.exports;
      const src = this.sideOutputs.get(file);
      if (src === undefined) return undefined;
      const mod = new Module(file, module);
      mod.filename = file;
      mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
      mod.require = this.makeRequire(mod.require.bind(mod) as NodeRequire, path.dirname(file));
      (mod as unknown as { _compile(src: string, file: string): void })._compile(src, file);
      this.sideModules.set(file, mod);
      return mod.exports;
    };
    const req = ((id: string) => fromSide(id) ?? base(id)) as NodeRequire;
    return Object.assign(req, { resolve: base.resolve, cache: base.cache, main: base.main, extensions: base.extensions });
  }

  /** Runs the prelude the compiler thread converted; its declarations are every later cell's. */
  runPrelude(): Promise<CellOutcome> {
    return this.compiler.prelude.then((p) => this.run(p, '<prelude>', ''));
  }

  private runs = 0;
  private running?: number;

  /** An id for the cell running now (undefined when idle), so a late interrupt can't hit the next cell. */
  get runningCell(): number | undefined {
    return this.running;
  }

  /** Interrupts a cell that is awaiting: its await rejects with KeyboardInterrupt. */
  interrupt(onlyCell?: number): void {
    if (onlyCell !== undefined && onlyCell !== this.running) return;
    this.cancel?.(new KeyboardInterrupt());
  }

  private interruptedWhileCompiling = false;

  /** An interrupt that arrives before the cell's code starts (it is still compiling) cancels it. */
  interruptBeforeRun(): void {
    if (this.running === undefined) this.interruptedWhileCompiling = true;
  }

  async execute(src: string, cellName: string): Promise<CellOutcome> {
    this.interruptedWhileCompiling = false;
    // Each cell's first chart carries plotly.js, so its charts draw whatever happens to other cells.
    resetPlotlyLibrary();
    const converted = await this.compiler.convert(this.prevDecl, src);
    if (this.interruptedWhileCompiling) {
      this.interruptedWhileCompiling = false;
      return { ok: false, error: runtimeError(new KeyboardInterrupt(), cellName, (t) => t) };
    }
    return this.run(converted, cellName, src);
  }

  private async run(converted: ConvertResult, cellName: string, src: string): Promise<CellOutcome> {
    for (const out of converted.sideOutputs ?? []) {
      this.sideModules.delete(out.path);
      this.sideOutputs.set(out.path, out.data);
    }
    if (converted.diagnostics.length > 0) return { ok: false, error: compileError(converted.diagnostics, cellName, src) };
    if (!converted.output) {
      this.prevDecl = converted.declOutput ?? '';
      return { ok: true, hasValue: false };
    }
    this.rememberSource(cellName, src, converted.output, converted.sourceMap);
    // The wrapper sits on its own first line; lineOffset -1 keeps stack lines = output lines.
    const prefix = converted.hasToplevelAwait ? '(async function(exports, require) {\n' : '(function(exports, require) {\n';
    const wrapped = `${prefix}${converted.output}\n})(${RUNTIME_GLOBAL}.exports, ${RUNTIME_GLOBAL}.require)`;
    this.running = ++this.runs;
    let value: unknown;
    try {
      const interrupted = new Promise<never>((_, reject) => (this.cancel = reject));
      interrupted.catch(() => undefined);
      // The prelude can't be interrupted (a SIGINT while it loads would leave the kernel without it).
      const ret = vm.runInThisContext(wrapped, {
        filename: cellName,
        lineOffset: -1,
        breakOnSigint: cellName !== '<prelude>',
        displayErrors: false,
      });
      if (converted.hasToplevelAwait) await Promise.race([ret as Promise<unknown>, interrupted]);
      const key = converted.lastExpressionVar;
      if (key && key in this.exports) {
        value = this.exports[key];
        delete this.exports[key];
      }
      // A Promise as the cell's value is awaited (IPython's autoawait, Deno's kernel): its
      // result is shown, and what it displays on the way lands in this cell.
      if (util.types.isPromise(value)) value = await Promise.race([value, interrupted]);
    } catch (e) {
      return {
        ok: false,
        error: runtimeError(
          asKeyboardInterrupt(e),
          cellName,
          (t) => this.mapCellPositions(t),
          (cell) => this.sources.get(cell)?.src,
        ),
      };
    } finally {
      this.cancel = undefined;
      this.running = undefined;
    }
    this.prevDecl = converted.declOutput ?? '';
    return value === undefined ? { ok: true, hasValue: false } : { ok: true, hasValue: true, value };
  }

  /** What each cell was and became, to map stack positions back (functions outlive their cell). */
  private readonly sources = new Map<string, { src: string; out: string; sourceMap?: string; positions?: CellPositions }>();

  private rememberSource(cellName: string, src: string, out: string, sourceMap?: string): void {
    this.sources.delete(cellName);
    this.sources.set(cellName, { src, out, sourceMap });
    // Enough for any traceback a session shows; the oldest go first.
    if (this.sources.size > 1000) this.sources.delete(this.sources.keys().next().value as string);
  }

  /** Rewrites `<cell N>:line:col` positions of the compiled JavaScript into positions in the TypeScript the user wrote. */
  mapCellPositions(text: string): string {
    return text.replace(/(<cell \d+>|<prelude>):(\d+):(\d+)/g, (all, cell: string, line: string, col: string) => {
      const entry = this.sources.get(cell);
      if (!entry) return all;
      entry.positions ??= new CellPositions(entry.src, entry.out, entry.sourceMap);
      const p = entry.positions.map(Number(line), Number(col));
      return `${cell}:${p.line}:${p.column}`;
    });
  }

  complete(src: string, pos: number): Promise<CompletionResult> {
    return this.compiler.complete(this.prevDecl, src, pos);
  }

  /** Hover text for the symbol at pos (type signature and documentation), or undefined. */
  inspect(src: string, pos: number): Promise<string | undefined> {
    return this.compiler.inspect(this.prevDecl, src, pos);
  }

  isComplete(src: string): Promise<CompletenessStatus> {
    return this.compiler.isComplete(src);
  }

  close(): void {
    this.compiler.close();
  }
}

function compileError(diags: CellDiagnostic[], cellName: string, src: string): CellError {
  const lines = src.split('\n');
  const traceback: string[] = [];
  const explained = diags.map((d) => (d.fileName ? { messageText: d.messageText, hint: undefined } : explainDiagnostic(d, src)));
  diags.forEach((d, i) => {
    const where = `${d.fileName ?? cellName}:${d.start.line + 1}:${d.start.character + 1}`;
    traceback.push(`\x1b[31m${where}\x1b[0m - error TS${d.code}: ${explained[i].messageText}`);
    if (!d.fileName && lines[d.start.line] !== undefined) {
      traceback.push(`    ${lines[d.start.line]}`);
      const width = Math.max(1, (d.start.line === d.end.line ? d.end.character : lines[d.start.line].length) - d.start.character);
      traceback.push(`    ${' '.repeat(d.start.character)}${'~'.repeat(width)}`);
    }
    if (explained[i].hint) traceback.push(`    \x1b[36mhint:\x1b[0m ${explained[i].hint}`);
  });
  const first = diags[0];
  const hint = explained[0].hint ? ` (hint: ${explained[0].hint})` : '';
  return {
    ename: 'TypeScriptError',
    evalue: `${cellName}:${first.start.line + 1}:${first.start.character + 1} - ${explained[0].messageText}${hint}`,
    traceback,
  };
}

function runtimeError(
  e: unknown,
  cellName: string,
  mapPositions: (text: string) => string,
  sourceOf: (cell: string) => string | undefined = () => undefined,
): CellError {
  if (!(e instanceof Error)) return { ename: 'Error', evalue: String(e), traceback: [`Uncaught ${String(e)}`] };
  const name = e.name || 'Error';
  const traceback = formatTraceback({ name, message: e.message, stack: mapPositions(e.stack ?? ''), sourceOf });
  return { ename: name, evalue: e.message, traceback };
}
