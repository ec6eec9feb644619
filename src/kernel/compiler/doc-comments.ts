// TypeScript 5.0 parses every documentation comment of every declaration file it reads, and
// half of the text of its own lib files and of the library's type bundle is such comments. The
// kernel gives TypeScript copies with those comments blanked out (same length, same line
// breaks, so every declaration keeps its position) and reads a comment from the original file
// only when hover text asks for it (declaration-docs.ts).
import * as fs from 'fs';
import * as path from 'path';
import type * as TS from 'typescript';
import { writeAtomic } from './cache-dir';

const GENERATOR_VERSION = 1;

/** The text with every `/** ... *\/` comment turned into spaces (line breaks kept, so every position stays). */
export function withoutDocComments(ts: typeof TS, text: string): string {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, false, ts.LanguageVariant.Standard, text);
  const out: string[] = [];
  let copied = 0;
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (t !== ts.SyntaxKind.MultiLineCommentTrivia) continue;
    const start = scanner.getTokenPos();
    const end = scanner.getTextPos();
    if (!text.startsWith('/**', start) || end - start < 5) continue;
    out.push(text.slice(copied, start), text.slice(start, end).replace(/[^\r\n]/g, ' '));
    copied = end;
  }
  out.push(text.slice(copied));
  return out.join('');
}

/** TypeScript's lib folder. */
export function libDirectory(ts: typeof TS): string {
  return path.dirname(ts.getDefaultLibFilePath({}));
}

/**
 * Makes TypeScript read its lib files without their doc comments (copies made once per
 * TypeScript version in cacheDir). Returns a line for the log if the copies could not be made.
 */
export function serveLibsWithoutDocComments(ts: typeof TS, cacheDir: string): string | undefined {
  const libDir = libDirectory(ts);
  const target = path.join(cacheDir, `lib-without-doc-comments-ts${ts.version}-v${GENERATOR_VERSION}`);
  try {
    if (!fs.existsSync(path.join(target, '.complete'))) {
      for (const f of fs.readdirSync(libDir)) {
        if (/^lib\..*\.d\.ts$/.test(f))
          writeAtomic(path.join(target, f), withoutDocComments(ts, fs.readFileSync(path.join(libDir, f), 'utf8')));
      }
      writeAtomic(path.join(target, '.complete'), '');
    }
  } catch (e) {
    return `TypeScript's lib files are read with their comments (${(e as Error).message})`;
  }
  const read = ts.sys.readFile.bind(ts.sys);
  ts.sys.readFile = (file: string, encoding?: string): string | undefined => {
    if (path.dirname(file) === libDir) {
      const lean = read(path.join(target, path.basename(file)), encoding);
      if (lean !== undefined) return lean;
    }
    return read(file, encoding);
  };
  return undefined;
}
