// Turns a TypeScript cell into JavaScript the kernel can run, type-checked against everything
// earlier cells declared. Earlier cells live on as one declarations file (their .d.ts output,
// carried from cell to cell); the cell file's parent is that file, so names the cell does not
// declare resolve there (a service of tslab's TypeScript build: ../compiler/tslab-adapter.ts).
// Each cell gets a new TypeScript program that reuses every parsed file of the last one
// (../compiler/compiler-host.ts), and is emitted straight to CommonJS with two small transforms
// (cell-transforms.ts): one program and one emit per cell, no watch program or builder.
import * as fs from 'fs';
import * as path from 'path';
import type * as TS from 'typescript';
import { CellCompilerHost } from '../compiler/compiler-host';
import { topLevelNames } from './cell-names';
import { carriedDeclarations, cellMeanings } from './carried-decls';
import { cellTransformers } from './cell-transforms';
import { completionsAt, linkCellToDeclarations, quickInfoAt, tslabCompilerOptions, tslabTypeRoot } from '../compiler/tslab-adapter';

export interface CellPosition {
  offset: number;
  /** 0-based. */
  line: number;
  /** 0-based. */
  character: number;
}

export interface CellDiagnostic {
  start: CellPosition;
  end: CellPosition;
  messageText: string;
  category: number;
  code: number;
  /** Set when the problem is in a local module the cell imports (relative to the notebook). */
  fileName?: string;
}

export interface ConvertResult {
  /** CommonJS to run with `exports` (the notebook's shared scope) and `require` in scope. */
  output?: string;
  /** Declarations of this and every earlier cell, for the next cell. */
  declOutput?: string;
  diagnostics: CellDiagnostic[];
  hasToplevelAwait?: boolean;
  /** Local modules the cell imports, compiled (again only when they changed). */
  sideOutputs?: Array<{ path: string; data: string }>;
  /** Key on `exports` holding the value of the cell's last expression. */
  lastExpressionVar?: string;
  /** Source map (JSON) from `output` back to the cell's text, for tracebacks. */
  sourceMap?: string;
}

export interface CompletionInfo {
  /** The span of src a chosen candidate replaces. */
  start: number;
  end: number;
  candidates: string[];
}

/** `await` and `for await` outside any function: with top-level await turned off (and CommonJS output), the marks of one. */
const AWAIT_OUTSIDE_ASYNC = new Set([1308, 1432]);

export class CellConverter {
  private readonly options: TS.CompilerOptions;
  private readonly files: CellCompilerHost;
  private readonly cellPath: string;
  private readonly declPath: string;
  private last?: { program: TS.Program; decl: string; cell: string };
  /** Version of each local module when its JavaScript was last handed out. */
  private readonly emitted = new Map<string, string | undefined>();

  constructor(
    private readonly ts: typeof TS,
    readonly rootDir: string = process.cwd(),
  ) {
    this.cellPath = path.join(rootDir, '__tfjs_estimator_cell__.ts');
    this.declPath = path.join(rootDir, '__tfjs_estimator_earlier_cells__.d.ts');
    this.options = {
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      // A cell is a module even with no import or export, so its names stay its own.
      moduleDetection: ts.ModuleDetectionKind.Force,
      esModuleInterop: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts'],
      declaration: true,
      sourceMap: true,
      newLine: ts.NewLineKind.LineFeed,
      // Cells run as sloppy-mode functions (the kernel's executor wraps them in one).
      noImplicitUseStrict: true,
      ignoreDeprecations: '5.0',
      experimentalDecorators: true,
      resolveJsonModule: true,
      jsx: ts.JsxEmit.React,
      allowJs: true,
      skipLibCheck: true,
      typeRoots: typeRoots(rootDir),
      // Emitted files go to the writeFile callback only; this folder is never created.
      outDir: path.join(rootDir, '__tfjs_estimator_out__'),
      ...tslabCompilerOptions,
    };
    this.files = new CellCompilerHost(ts, this.options, rootDir);
    const problems = this.programFor('', '').program.getOptionsDiagnostics();
    if (problems.length)
      throw new Error(`cell compiler options: ${problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ')}`);
  }

  /** A program holding the cell after the given declarations (the last one when they repeat). */
  private programFor(prevDecl: string, cell: string): { program: TS.Program; cellSf: TS.SourceFile; declSf: TS.SourceFile } {
    if (!this.last || this.last.decl !== prevDecl || this.last.cell !== cell) {
      // `export {}` keeps earlier cells' names out of the global scope.
      this.files.setInMemory(this.declPath, `export {};\n${prevDecl}`);
      this.files.setInMemory(this.cellPath, cell);
      this.files.newProgram();
      const program = this.ts.createProgram({
        rootNames: [this.declPath, this.cellPath],
        options: this.options,
        host: this.files.host,
        oldProgram: this.last?.program,
      });
      this.last = { program, decl: prevDecl, cell };
    }
    const program = this.last.program;
    const cellSf = program.getSourceFile(this.cellPath)!;
    const declSf = program.getSourceFile(this.declPath)!;
    // Names the cell does not declare are looked up among earlier cells' declarations.
    linkCellToDeclarations(cellSf, declSf);
    return { program, cellSf, declSf };
  }

  convert(prevDecl: string, src: string): ConvertResult {
    const ts = this.ts;
    // Everything the cell declares is exported, so its declarations file lists it.
    const declared = topLevelNames(ts, ts.createSourceFile(this.cellPath, src, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS));
    const names = declared.map((d) => d.name);
    const unexported = declared.filter((d) => !d.exported).map((d) => d.name);
    const text = unexported.length ? `${src}\nexport { ${unexported.join(', ')} };` : src;
    const { program, cellSf, declSf } = this.programFor(prevDecl, text);

    let hasToplevelAwait = false;
    let diagnostics: TS.Diagnostic[] = program.getSyntacticDiagnostics(cellSf).slice();
    if (!diagnostics.length) {
      diagnostics = [...program.getGlobalDiagnostics(), ...program.getSemanticDiagnostics(cellSf)].filter((d) => {
        if (AWAIT_OUTSIDE_ASYNC.has(d.code) && d.file === cellSf && isTopLevelAwait(ts, cellSf, d.start ?? -1))
          return !(hasToplevelAwait = true);
        return true;
      });
    }
    const locals = this.changedLocalModules(program);
    for (const sf of locals) diagnostics.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
    const problems = this.cellDiagnostics(diagnostics);
    if (problems.length) return { diagnostics: problems };

    const sideOutputs: Array<{ path: string; data: string }> = [];
    for (const sf of locals) {
      program.emit(sf, (file, data) => {
        if (/\.(c|m)?jsx?$/.test(file))
          sideOutputs.push({
            path: sf.fileName.replace(/\.(c|m)?[jt]sx?$/, '.js'),
            data: data.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n'),
          });
      });
      this.emitted.set(sf.fileName, this.files.versionOf(sf.fileName));
    }

    let output = '';
    let dts = '';
    let sourceMap: string | undefined;
    let lastExpressionVar: string | undefined;
    const checker = program.getTypeChecker();
    const transformers = cellTransformers(ts, {
      checker,
      declFile: declSf,
      cellNames: new Set(names),
      onLastExpression: (k) => (lastExpressionVar = k),
    });
    const emitted = program.emit(
      cellSf,
      (file, data) => {
        if (file.endsWith('.d.ts')) dts = data;
        else if (file.endsWith('.js.map')) sourceMap = data;
        // The map travels with the result, not behind a URL comment.
        else if (file.endsWith('.js')) output = data.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
      },
      undefined,
      false,
      transformers,
    );
    const emitProblems = this.cellDiagnostics(emitted.diagnostics);
    if (emitProblems.length) return { diagnostics: emitProblems };

    const carried = carriedDeclarations(ts, checker, declSf, cellMeanings(ts, checker, cellSf));
    return {
      output,
      declOutput: carried ? `${dts.trimEnd()}\n${carried}\n` : dts,
      diagnostics: [],
      hasToplevelAwait,
      sideOutputs: sideOutputs.length ? sideOutputs.sort((a, b) => a.path.localeCompare(b.path)) : undefined,
      lastExpressionVar,
      sourceMap,
    };
  }

  /** The notebook's own .ts/.js files in the program that changed since their last emit. */
  private changedLocalModules(program: TS.Program): TS.SourceFile[] {
    return program.getSourceFiles().filter((sf) => {
      const f = sf.fileName;
      if (sf.isDeclarationFile || f === this.cellPath || f.includes('/node_modules/') || f.endsWith('.json')) return false;
      return !this.emitted.has(f) || this.emitted.get(f) !== this.files.versionOf(f);
    });
  }

  private cellDiagnostics(diags: readonly TS.Diagnostic[]): CellDiagnostic[] {
    const ts = this.ts;
    const out: CellDiagnostic[] = [];
    for (const d of diags) {
      if (d.category !== ts.DiagnosticCategory.Error && d.category !== ts.DiagnosticCategory.Warning) continue;
      const sf = d.file;
      const at = (offset: number): CellPosition => {
        const lc = sf ? sf.getLineAndCharacterOfPosition(Math.min(offset, sf.text.length)) : { line: 0, character: 0 };
        return { offset, line: lc.line, character: lc.character };
      };
      const start = d.start ?? 0;
      const fileName = !sf || sf.fileName === this.cellPath ? undefined : relativeName(this.rootDir, sf.fileName);
      out.push({
        start: at(start),
        end: at(start + (d.length ?? 0)),
        messageText: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
        category: d.category,
        code: d.code,
        fileName,
      });
    }
    return out;
  }

  complete(prevDecl: string, src: string, pos: number): CompletionInfo {
    const { program, cellSf } = this.programFor(prevDecl, src);
    // Binding (done with the checker) links each node to its parent, which completion needs.
    program.getTypeChecker();
    const info = completionsAt(this.ts, program, cellSf, pos);
    // The identifier around the cursor is what a candidate replaces.
    let start = pos;
    let end = pos;
    while (start > 0 && /[\w$]/.test(src[start - 1])) start--;
    while (end < src.length && /[\w$]/.test(src[end])) end++;
    const typed = src.slice(start, pos);
    const access = info?.isMemberCompletion ? memberAccessAt(this.ts, cellSf, pos) : undefined;
    const hidden = access ? hiddenMembers(this.ts, program.getTypeChecker(), access, typed) : () => false;
    const entries = (info?.entries ?? [])
      .filter((e) => !hidden(e.name))
      .sort((a, b) => a.sortText.localeCompare(b.sortText) || a.name.localeCompare(b.name));
    return { start, end, candidates: entries.map((e) => e.name) };
  }

  /** The declarations of what the name at pos refers to (through imports). */
  declarationsAt(prevDecl: string, src: string, pos: number): readonly TS.Declaration[] {
    const { program, cellSf } = this.programFor(prevDecl, src);
    const checker = program.getTypeChecker();
    const id = identifierAt(this.ts, cellSf, pos);
    let sym = id && checker.getSymbolAtLocation(id);
    if (sym && sym.flags & this.ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    return sym?.declarations ?? [];
  }

  inspect(prevDecl: string, src: string, pos: number): TS.QuickInfo | undefined {
    const { program, cellSf } = this.programFor(prevDecl, src);
    return quickInfoAt(this.ts, program, cellSf, pos);
  }
}

/** The `a.b` whose member name is being typed at pos (just after the dot, or inside the name). */
function memberAccessAt(ts: typeof TS, sf: TS.SourceFile, pos: number): TS.PropertyAccessExpression | undefined {
  let found: TS.PropertyAccessExpression | undefined;
  const visit = (n: TS.Node): void => {
    if (pos < n.pos || pos > n.end) return;
    if (ts.isPropertyAccessExpression(n) && n.expression.end < pos) found = n;
    ts.forEachChild(n, visit);
  };
  ts.forEachChild(sf, visit);
  return found;
}

/**
 * Members a user of the library should not be offered after `x.`: underscore names (internal by
 * convention; offered again once the user types `_`) and tfjs's kernel-name constants
 * (`tf.Abs = 'Abs'`, `tf._FusedMatMul`), which tfjs exports for backend authors.
 */
function hiddenMembers(
  ts: typeof TS,
  checker: TS.TypeChecker,
  access: TS.PropertyAccessExpression,
  typed: string,
): (name: string) => boolean {
  const owner = checker.getTypeAtLocation(access.expression);
  return (name) => {
    if (name.startsWith('_') && !typed.startsWith('_')) return true;
    if (!/^_?[A-Z]/.test(name)) return false;
    let prop = owner.getProperty(name);
    if (prop && prop.flags & ts.SymbolFlags.Alias) prop = checker.getAliasedSymbol(prop);
    if (!prop || !(prop.flags & ts.SymbolFlags.Variable)) return false;
    const t = checker.getTypeOfSymbolAtLocation(prop, access.expression);
    return t.isStringLiteral() && t.value === name;
  };
}

/** The identifier at (or just before) pos. */
function identifierAt(ts: typeof TS, sf: TS.SourceFile, pos: number): TS.Identifier | undefined {
  let found: TS.Identifier | undefined;
  const visit = (n: TS.Node): void => {
    if (pos < n.getStart(sf) || pos > n.end) return;
    if (ts.isIdentifier(n)) found = n;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(sf, visit);
  return found;
}

function relativeName(rootDir: string, file: string): string {
  const rel = path.relative(rootDir, file);
  return rel.startsWith('..') ? file : rel;
}

/** Is the `await` (or `for await`) starting at `pos` outside every function (a top-level await)? */
function isTopLevelAwait(ts: typeof TS, sf: TS.SourceFile, pos: number): boolean {
  let found: TS.Node | undefined;
  const visit = (n: TS.Node): void => {
    if (found || pos < n.pos || pos >= n.end) return;
    if ((ts.isAwaitExpression(n) && n.getStart(sf) === pos) || (ts.isForOfStatement(n) && n.awaitModifier?.getStart(sf) === pos)) found = n;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(sf, visit);
  for (let n = found?.parent; n && n !== sf; n = n.parent) {
    if (ts.isFunctionLike(n) || ts.isClassStaticBlockDeclaration(n)) return false;
  }
  return !!found;
}

/** @types folders from the notebook's folder upwards; Node's own types when none has them. */
function typeRoots(rootDir: string): string[] {
  const roots: string[] = [];
  for (let dir = rootDir; ; dir = path.dirname(dir)) {
    const r = path.join(dir, 'node_modules', '@types');
    if (fs.existsSync(r)) roots.push(r);
    if (path.dirname(dir) === dir) break;
  }
  const fallback = tslabTypeRoot();
  if (fallback && !roots.some((r) => fs.existsSync(path.join(r, 'node', 'package.json')))) roots.push(fallback);
  return roots;
}
