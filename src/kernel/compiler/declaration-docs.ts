// Documentation for hover text on declarations whose doc comments TypeScript never saw: the
// type bundle and TypeScript's lib files are read with those comments blanked out
// (doc-comments.ts). The original of such a file has every declaration at the same position,
// so a declaration's comment is read there, between its leading trivia and its first token.
import * as fs from 'fs';
import type * as TS from 'typescript';

export class DeclarationDocs {
  private readonly texts = new Map<string, string | undefined>();

  /** originalOf: the file with comments for a file TypeScript read without them, else undefined. */
  constructor(
    private readonly ts: typeof TS,
    private readonly originalOf: (file: string) => string | undefined,
  ) {}

  /** The documentation of the first of these declarations that has some in its original file. */
  documentation(declarations: readonly TS.Declaration[]): string | undefined {
    for (const d of declarations) {
      const sf = d.getSourceFile();
      const original = this.originalOf(sf.fileName);
      if (!original) continue;
      const doc = this.commentOf(this.ts.isVariableDeclaration(d) ? d.parent.parent : d, sf, original);
      if (doc) return doc;
    }
    return undefined;
  }

  private commentOf(node: TS.Node, sf: TS.SourceFile, original: string): string | undefined {
    const ts = this.ts;
    if (!this.texts.has(original)) {
      try {
        this.texts.set(original, fs.readFileSync(original, 'utf8'));
      } catch {
        this.texts.set(original, undefined);
      }
    }
    const text = this.texts.get(original);
    if (text === undefined) return undefined;
    const leading = text.slice(node.pos, node.getStart(sf));
    if (!leading.includes('/**')) return undefined;
    // TypeScript's own JSDoc parser reads the comment, attached to a stand-in declaration.
    const host = ts.createSourceFile('doc.ts', `${leading}declare const doc: 0;`, ts.ScriptTarget.ES2022, true).statements[0];
    const docs = ts.getJSDocCommentsAndTags(host).filter(ts.isJSDoc);
    const last = docs[docs.length - 1];
    return last?.comment ? ts.getTextOfJSDocComment(last.comment) : undefined;
  }
}
