// Everything the kernel takes from tslab, in one place. The cell converter is our own; from
// tslab the kernel uses only the TypeScript build it ships (@tslab/typescript-for-tslab: public
// TypeScript plus a few services and options tslab added), its isCompleteCode, and the
// @types/node copy it falls back to. Those additions are not TypeScript's public API, so each
// is named here once, with the shape the kernel relies on.
import * as path from 'path';
import type * as TS from 'typescript';
import { requireWithCodeCache, CachedModule } from './code-cache';

/** The module id of tslab's TypeScript build. */
const TYPESCRIPT_ID = '@tslab/typescript-for-tslab';

/** Loads tslab's TypeScript build through V8's code cache (code-cache.ts). */
export function loadTypeScript(cacheDir: string): CachedModule {
  return requireWithCodeCache(TYPESCRIPT_ID, cacheDir);
}

/** tslab's TypeScript build, loaded the ordinary way (tests, tools). */
export function requireTypeScript(): typeof TS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when first used, after V8's code cache is set up
  return require(TYPESCRIPT_ID) as typeof TS;
}

/** The TypeScript version the kernel reports, from the package's metadata (no compiler load). */
export function typeScriptVersion(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json by name, synchronously
    return (require(`${TYPESCRIPT_ID}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** tslab's own version: cached conversions depend on its TypeScript build. */
export function tslabVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json by name, synchronously
  return (require('tslab/package.json') as { version: string }).version;
}

/** The @types folder inside tslab's package (where its @types/node copy lives), or undefined without tslab. */
export function tslabTypeRoot(): string | undefined {
  try {
    return path.join(path.dirname(require.resolve('tslab/package.json')), 'node_modules', '@types');
  } catch {
    return undefined;
  }
}

/**
 * Whether a cell's text is complete, or needs more lines (then the indent of the next one).
 * Loaded on first use: tslab's converter module loads its TypeScript build, which must come
 * through loadTypeScript first, and never into the kernel's main thread.
 */
export function cellCompleteness(src: string): { completed: boolean; indent?: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when first used, so the kernel's main thread never loads tslab
  const { isCompleteCode } = require('tslab/dist/converter') as typeof import('tslab/dist/converter');
  return isCompleteCode(src);
}

/**
 * Compiler options only tslab's build knows. disableTopLevelAwait: report `await` outside
 * functions (1308) instead of treating the cell as an ES module, so the cell can be wrapped.
 */
export const tslabCompilerOptions: TS.CompilerOptions = { disableTopLevelAwait: true };

/**
 * Makes names the cell does not declare resolve among the earlier cells' declarations: tslab's
 * build looks a file's unresolved top-level names up in its parent file.
 */
export function linkCellToDeclarations(cellSf: TS.SourceFile, declSf: TS.SourceFile): void {
  (cellSf as { parent?: TS.Node }).parent = declSf;
}

/** What tslab's build adds to the public API (program-level services without a language service host). */
interface TslabTypeScript {
  Completions: {
    getCompletionsAtPositionForTslab(
      host: object,
      program: TS.Program,
      log: (m: string) => void,
      sf: TS.SourceFile,
      pos: number,
      prefs: TS.UserPreferences,
      trigger: undefined,
      kind: TS.CompletionTriggerKind,
      cancel: TS.CancellationToken,
    ): TS.CompletionInfo | undefined;
  };
  getQuickInfoAtPosition(sf: TS.SourceFile, checker: TS.TypeChecker, cancel: TS.CancellationToken, pos: number): TS.QuickInfo | undefined;
}

const neverCancelled: TS.CancellationToken = { isCancellationRequested: () => false, throwIfCancellationRequested: () => undefined };

/** Completions at pos in a file of the program. */
export function completionsAt(ts: typeof TS, program: TS.Program, sf: TS.SourceFile, pos: number): TS.CompletionInfo | undefined {
  return (ts as unknown as TslabTypeScript).Completions.getCompletionsAtPositionForTslab(
    {},
    program,
    () => undefined,
    sf,
    pos,
    {},
    undefined,
    ts.CompletionTriggerKind.Invoked,
    neverCancelled,
  );
}

/** Hover information at pos in a file of the program. */
export function quickInfoAt(ts: typeof TS, program: TS.Program, sf: TS.SourceFile, pos: number): TS.QuickInfo | undefined {
  return (ts as unknown as TslabTypeScript).getQuickInfoAtPosition(sf, program.getTypeChecker(), neverCancelled, pos);
}
