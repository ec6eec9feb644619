// The command line's flags, checked against the usage text: a flag it does not document, a
// missing value or two scopes at once is a UsageError (the CLI prints the usage, exit 2).
import * as path from 'path';

/** Where a spec is installed, as install's and uninstall's flags say. */
export type Scope = { kind: 'user' } | { kind: 'sys-prefix' } | { kind: 'prefix'; dir: string };

/** A command line the usage text does not allow; the CLI prints the usage with it. */
export class UsageError extends Error {}

/** `[--user | --sys-prefix | --prefix DIR]`; --user when none is given. */
export function parseScope(args: string[]): Scope {
  const scopes: Scope[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--user') scopes.push({ kind: 'user' });
    else if (a === '--sys-prefix') scopes.push({ kind: 'sys-prefix' });
    else if (a === '--prefix' || a.startsWith('--prefix=')) {
      const dir = a === '--prefix' ? args[++i] : a.slice('--prefix='.length);
      if (!dir || dir.startsWith('--')) throw new UsageError('--prefix needs a folder: --prefix DIR');
      scopes.push({ kind: 'prefix', dir: path.resolve(dir) });
    } else throw new UsageError(`unknown argument '${a}'`);
  }
  if (scopes.length > 1) throw new UsageError('give one of --user, --sys-prefix, --prefix DIR');
  return scopes[0] ?? { kind: 'user' };
}

export interface RunArgs {
  notebook: string;
  /** Where the executed notebook and its HTML go: --out, else executed/ beside the notebook. */
  out: string;
  /** Seconds a cell may run: --timeout, else 1800. */
  timeout: number;
}

/** `NOTEBOOK [--out DIR] [--timeout SECS]`, in any order. */
export function parseRunArgs(args: string[]): RunArgs {
  let notebook: string | undefined;
  let out: string | undefined;
  let timeout = 1800;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out' || a === '--timeout') {
      const value = args[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${a} needs a value`);
      if (a === '--out') out = value;
      else {
        timeout = Number(value);
        if (!(timeout > 0)) throw new UsageError(`--timeout takes seconds above 0, not '${value}'`);
      }
    } else if (a.startsWith('-')) throw new UsageError(`unknown argument '${a}'`);
    else if (notebook) throw new UsageError(`one notebook at a time: got '${notebook}' and '${a}'`);
    else notebook = a;
  }
  if (!notebook) throw new UsageError('run needs a notebook: run NOTEBOOK');
  return { notebook, out: path.resolve(out ?? path.join(path.dirname(notebook), 'executed')), timeout };
}
