// Documentation for hover text on the library's declarations. The type bundle TypeScript reads
// has its doc comments blanked out (type-bundle.ts); its twin with the comments has every
// declaration at the same position, so a declaration's comment is read from the twin, between
// the declaration's leading trivia and its first token.
import * as fs from 'fs';
import type * as TS from 'typescript';

export class BundleDocs {
  private text?: string;

  constructor(private readonly ts: typeof TS, private readonly bundlePath: string, private readonly docsPath: string) {}

  /** The documentation of the first of these declarations that is in the bundle and has some. */
  documentation(declarations: readonly TS.Declaration[]): string | undefined {
    for (const d of declarations) {
      const sf = d.getSourceFile();
      if (sf.fileName !== this.bundlePath) continue;
      const doc = this.commentOf(this.ts.isVariableDeclaration(d) ? d.parent.parent : d, sf);
      if (doc) return doc;
    }
    return undefined;
  }

  private commentOf(node: TS.Node, sf: TS.SourceFile): string | undefined {
    const ts = this.ts;
    try {
      this.text ??= fs.readFileSync(this.docsPath, 'utf8');
    } catch {
      return undefined;
    }
    const leading = this.text.slice(node.pos, node.getStart(sf));
    if (!leading.includes('/**')) return undefined;
    // TypeScript's own JSDoc parser reads the comment, attached to a stand-in declaration.
    const host = ts.createSourceFile('doc.ts', `${leading}declare const doc: 0;`, ts.ScriptTarget.ES2022, true).statements[0];
    const docs = ts.getJSDocCommentsAndTags(host).filter(ts.isJSDoc);
    const last = docs[docs.length - 1];
    return last?.comment ? ts.getTextOfJSDocComment(last.comment) : undefined;
  }
}
