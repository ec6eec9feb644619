// How a cell's JavaScript differs from plain TypeScript output. Earlier cells' variables live
// on the notebook's shared `exports` object at run time, so references to them are rewritten to
// `exports.name`; the value of a cell's last expression is stored there too, under a fresh
// name, for the kernel to show. The cell's declarations file keeps only declarations.
import type * as TS from 'typescript';
import { topLevelNames, DeclaredName } from './cell-names';

export interface CellTransformOptions {
  checker: TS.TypeChecker;
  /** The declarations of earlier cells (a module whose top level the cell sees). */
  declFile: TS.SourceFile;
  /** Names the cell declares: the last expression's key must not be one of them. */
  cellNames: ReadonlySet<string>;
  /** Told the key under which the last expression's value will be stored, if there is one. */
  onLastExpression(key: string): void;
}

export function cellTransformers(ts: typeof TS, o: CellTransformOptions): TS.CustomTransformers {
  const f = ts.factory;
  let earlierNames: DeclaredName[] | undefined;
  const earlierDeclared = (): DeclaredName[] => (earlierNames ??= topLevelNames(ts, o.declFile));
  let earlier: Set<TS.Symbol> | undefined;
  /** Is this identifier a reference to something an earlier cell declared? */
  const isEarlier = (sym: TS.Symbol | undefined): boolean => {
    if (!sym) return false;
    earlier ??= new Set(
      earlierDeclared()
        .map((d) => o.checker.getSymbolAtLocation(d.node))
        .filter((s): s is TS.Symbol => !!s),
    );
    return earlier.has(sym);
  };
  // Mapped to the identifier it replaces, so tracebacks point at what the user wrote.
  const onExports = (id: TS.Identifier): TS.Expression =>
    ts.setSourceMapRange(f.createPropertyAccessExpression(f.createIdentifier('exports'), f.createIdentifier(id.text)), id);
  const leftmost = (name: TS.EntityName): TS.Identifier => (ts.isIdentifier(name) ? name : leftmost(name.left));
  const entityToExpression = (name: TS.EntityName): TS.Expression =>
    ts.isIdentifier(name)
      ? onExports(name)
      : f.createPropertyAccessExpression(entityToExpression(name.left), f.createIdentifier(name.right.text));

  // A key no cell has declared: the kernel deletes it from exports once it has the value.
  const lastKey = (): string => {
    const taken = (k: string): boolean => o.cellNames.has(k) || earlierDeclared().some((d) => d.name === k);
    let key = 'tsLastExpr';
    for (let i = 0; taken(key); i++) key = `tsLastExpr${i}`;
    return key;
  };

  const before = (context: TS.TransformationContext) => {
    const visit = (node: TS.Node): TS.Node => {
      // Types are erased; export lists and property names are not references.
      if (
        ts.isTypeNode(node) ||
        ts.isInterfaceDeclaration(node) ||
        ts.isTypeAliasDeclaration(node) ||
        ts.isExportDeclaration(node) ||
        (ts.isHeritageClause(node) && node.token === ts.SyntaxKind.ImplementsKeyword)
      )
        return node;
      if (ts.isIdentifier(node)) return isEarlier(o.checker.getSymbolAtLocation(node)) ? onExports(node) : node;
      if (ts.isPropertyAccessExpression(node))
        return f.updatePropertyAccessExpression(node, ts.visitNode(node.expression, visit) as TS.Expression, node.name);
      if (ts.isShorthandPropertyAssignment(node) && isEarlier(o.checker.getShorthandAssignmentValueSymbol(node))) {
        return f.createPropertyAssignment(node.name.text, onExports(node.name));
      }
      // `import a = earlier.b` is `const a = exports.earlier.b` once types are gone.
      if (
        ts.isImportEqualsDeclaration(node) &&
        !node.isTypeOnly &&
        ts.isEntityName(node.moduleReference) &&
        isEarlier(o.checker.getSymbolAtLocation(leftmost(node.moduleReference)))
      ) {
        return f.createVariableStatement(
          undefined,
          f.createVariableDeclarationList(
            [f.createVariableDeclaration(node.name.text, undefined, undefined, entityToExpression(node.moduleReference))],
            ts.NodeFlags.Const,
          ),
        );
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sf: TS.SourceFile): TS.SourceFile => {
      const statements = sf.statements.map((s) => visit(s) as TS.Statement);
      for (let i = statements.length - 1; i >= 0; i--) {
        const s = statements[i];
        if (ts.isExportDeclaration(s) || ts.isEmptyStatement(s)) continue;
        if (ts.isExpressionStatement(s)) {
          const key = lastKey();
          statements[i] = f.updateExpressionStatement(
            s,
            f.createAssignment(f.createPropertyAccessExpression(f.createIdentifier('exports'), key), s.expression),
          );
          o.onLastExpression(key);
        }
        break;
      }
      return f.updateSourceFile(sf, statements);
    };
  };

  // The cell's declarations file is read by later cells: keep declarations, drop export lists.
  const afterDeclarations =
    () =>
    (node: TS.SourceFile | TS.Bundle): TS.SourceFile | TS.Bundle =>
      ts.isSourceFile(node)
        ? f.updateSourceFile(
            node,
            node.statements.filter((s) => !ts.isExportDeclaration(s)),
          )
        : node;

  return { before: [before], afterDeclarations: [afterDeclarations] };
}
