// The TypeScript side of a cell: the cell converter (../cells/cell-converter.ts) type-checks it against
// the declarations of the prelude and earlier cells, transpiles it, and answers completion and
// hover questions. It runs in its own thread (compiler-thread.ts): the kernel's event loop stays
// free while TypeScript works, and the compiler starts up while the library loads.
import type * as TS from 'typescript';
import { CellConverter, ConvertResult } from '../cells/cell-converter';
import type { DeclarationDocs } from './declaration-docs';
import { cellCompleteness } from './tslab-adapter';

export type { ConvertResult };

export interface CompletionResult {
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
}

export type CompletenessStatus = { status: 'complete' | 'invalid' } | { status: 'incomplete'; indent: string };

/** The type bundle's internal namespaces (type-bundle.ts) mean nothing to a user: drop them. */
export function withoutBundleNames(text: string): string {
  return text.replace(/\b__(?:m|ext)\d+\./g, '');
}

export class Compiler {
  private readonly converter: CellConverter;

  /** docs: documentation of declarations TypeScript read without their comments (declaration-docs.ts). */
  constructor(
    private readonly ts: typeof TS,
    private readonly docs?: DeclarationDocs,
  ) {
    this.converter = new CellConverter(ts);
  }

  convert(prevDecl: string, src: string): ConvertResult {
    const r = this.converter.convert(prevDecl, src);
    for (const d of r.diagnostics) d.messageText = withoutBundleNames(d.messageText);
    return r;
  }

  complete(prevDecl: string, src: string, pos: number): CompletionResult {
    const info = this.converter.complete(prevDecl, src, pos);
    // The language service lists every member; keep those matching what was typed.
    const typed = src.slice(info.start, pos);
    return {
      matches: info.candidates.filter((c) => c.startsWith(typed) && !/^__(m|ext)\d+$/.test(c)),
      cursorStart: info.start,
      cursorEnd: info.end,
    };
  }

  /** Hover text for the symbol at pos (signature, then documentation), or undefined. */
  inspect(prevDecl: string, src: string, pos: number): string | undefined {
    const info = this.converter.inspect(prevDecl, src, pos);
    if (!info) return undefined;
    // The prelude's globals are import aliases into the bundle: their second line is the alias.
    const sig = withoutBundleNames((info.displayParts ?? []).map((p) => p.text).join(''))
      .split('\n')
      .filter((l) => !/^import \w+ = /.test(l))
      .join('\n');
    let doc = (info.documentation ?? []).map((p) => p.text).join('');
    if (!doc && this.docs) doc = this.docs.documentation(this.converter.declarationsAt(prevDecl, src, pos)) ?? '';
    return doc ? `${sig}\n\n${doc}` : sig;
  }

  isComplete(src: string): CompletenessStatus {
    const r = cellCompleteness(src);
    if (!r.completed) return { status: 'incomplete', indent: r.indent ?? '' };
    const sf = this.ts.createSourceFile('cell.ts', src, this.ts.ScriptTarget.Latest, false, this.ts.ScriptKind.TS);
    const syntaxErrors = (sf as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? [];
    return syntaxErrors.length > 0 ? { status: 'invalid' } : { status: 'complete' };
  }
}
