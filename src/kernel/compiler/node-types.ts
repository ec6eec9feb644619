// Node's type declarations (@types/node, 2 MB, mostly documentation comments) are parsed at
// every kernel start; their doc comments alone cost a third of the compiler's start-up. The
// kernel keeps a copy without doc comments, made once per version, and serves it to TypeScript
// in place of the real files. Cells type-check the same; hover text on Node's own APIs shows
// signatures only. A notebook folder with its own @types/node is read as it is.
import * as fs from 'fs';
import * as path from 'path';
import type * as TS from 'typescript';
import { writeAtomic } from './cache-dir';
import { tslabTypeRoot } from './tslab-adapter';

const GENERATOR_VERSION = 1;

interface NodeTypes {
  dir: string;
  version: string;
}

/** Ours and tslab's own copy (tslab falls back to it when a notebook folder has none). */
function nodeTypeDirs(): NodeTypes[] {
  const found: NodeTypes[] = [];
  const add = (pkg: string): void => {
    try {
      const version = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
      const dir = path.dirname(fs.realpathSync(pkg));
      if (!found.some((f) => f.dir === dir)) found.push({ dir, version });
    } catch {
      // Not installed: nothing to serve.
    }
  };
  try {
    add(require.resolve('@types/node/package.json'));
  } catch {
    // No @types/node of ours.
  }
  const tslabTypes = tslabTypeRoot();
  // No tslab: the compiler cannot start anyway.
  if (tslabTypes) add(path.join(tslabTypes, 'node', 'package.json'));
  return found;
}

function listDts(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : listDts(dir, r);
    return e.name.endsWith('.d.ts') ? [r] : [];
  });
}

/** Writes the comment-free copy of one @types/node into cacheDir (once per version). */
function ensureLean(ts: typeof TS, cacheDir: string, types: NodeTypes): string {
  const target = path.join(cacheDir, `node-types-${types.version}-ts${ts.version}-v${GENERATOR_VERSION}`);
  if (fs.existsSync(path.join(target, '.complete'))) return target;
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
  for (const rel of listDts(types.dir)) {
    const text = fs.readFileSync(path.join(types.dir, rel), 'utf8');
    // Triple-slash directives are comments too; they must stay.
    const directives = text.split('\n').filter((l) => /^\s*\/\/\/\s*</.test(l));
    const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
    writeAtomic(path.join(target, rel), `${directives.join('\n')}\n${printer.printFile(sf)}`);
  }
  writeAtomic(path.join(target, '.complete'), '');
  return target;
}

/**
 * Makes TypeScript read the lean copies whenever it asks for a file of a known @types/node.
 * Returns a line for the log when a copy could not be made (the real files are read then).
 */
export function serveLeanNodeTypes(ts: typeof TS, cacheDir: string): string | undefined {
  const served: Array<{ prefix: string; lean: string }> = [];
  const problems: string[] = [];
  for (const types of nodeTypeDirs()) {
    try {
      served.push({ prefix: types.dir + path.sep, lean: ensureLean(ts, cacheDir, types) });
    } catch (e) {
      problems.push(`${types.dir}: ${(e as Error).message}`);
    }
  }
  if (served.length) {
    const read = ts.sys.readFile.bind(ts.sys);
    ts.sys.readFile = (file: string, encoding?: string): string | undefined => {
      for (const s of served) {
        if (file.startsWith(s.prefix)) {
          const lean = read(path.join(s.lean, file.slice(s.prefix.length)), encoding);
          if (lean !== undefined) return lean;
        }
      }
      return read(file, encoding);
    };
  }
  return problems.length ? `Node's types are read with their comments (${problems.join('; ')})` : undefined;
}
