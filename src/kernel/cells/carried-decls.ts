// What of earlier cells' declarations a new cell leaves standing. A cell that declares a name
// again hides the earlier declaration in the meanings it declares (value, type, namespace);
// the rest is carried into the next cell's declarations, statement by statement, keeping
// documentation comments. A class or enum whose type is redeclared but whose value is not
// keeps its value, typed `any`.
import type * as TS from 'typescript';
import { statementNames, DeclaredName } from './cell-names';

/** The three spaces a name can live in (TypeScript's own flags overlap: a class is in both). */
export const VALUE = 1;
export const TYPE = 2;
export const NAMESPACE = 4;
const ANY = VALUE | TYPE | NAMESPACE;

/**
 * The meanings one declaration gives its name. Taken from the declaration, not the symbol: an
 * interface and a const of the same name merge into one symbol, but redeclaring the const must
 * not take the interface with it.
 */
export function meaningOf(ts: typeof TS, checker: TS.TypeChecker, d: DeclaredName): number {
  const s = d.statement;
  if (ts.isVariableStatement(s) || ts.isFunctionDeclaration(s)) return VALUE;
  if (ts.isClassDeclaration(s) || ts.isEnumDeclaration(s)) return VALUE | TYPE;
  if (ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)) return TYPE;
  if (ts.isModuleDeclaration(s)) return NAMESPACE | VALUE;
  // An import means what it imports; one that does not resolve, anything.
  const sym = checker.getSymbolAtLocation(d.node);
  if (!sym) return ANY;
  const F = ts.SymbolFlags;
  const flags = (sym.flags & F.Alias ? checker.getAliasedSymbol(sym) : sym).flags;
  const m = (flags & F.Value ? VALUE : 0) | (flags & F.Type ? TYPE : 0) | (flags & F.Namespace ? NAMESPACE : 0);
  return m || ANY;
}

/** What the names a cell declares mean, all its declarations of each name together. */
export function cellMeanings(ts: typeof TS, checker: TS.TypeChecker, cell: TS.SourceFile): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of cell.statements) for (const d of statementNames(ts, s)) m.set(d.name, (m.get(d.name) ?? 0) | meaningOf(ts, checker, d));
  return m;
}

export function carriedDeclarations(
  ts: typeof TS,
  checker: TS.TypeChecker,
  declFile: TS.SourceFile,
  redeclared: ReadonlyMap<string, number>,
): string {
  const text = declFile.text;
  const out: string[] = [];
  // Most names are not redeclared: only those need the checker (imports resolve their target).
  const kept = (d: DeclaredName): boolean => !redeclared.get(d.name) || !(meaningOf(ts, checker, d) & redeclared.get(d.name)!);
  for (const s of declFile.statements) {
    // The `export {}` that makes the file a module.
    if (ts.isExportDeclaration(s)) continue;
    const names = statementNames(ts, s);
    const keep = names.filter(kept);
    if (keep.length === names.length) {
      // Nothing redeclared: the statement as it was, with its comments.
      out.push(text.slice(s.pos, s.end).trim());
      continue;
    }
    if (ts.isVariableStatement(s) && keep.length) {
      const decls = s.declarationList.declarations.filter((d) => ts.isIdentifier(d.name) && keep.some((k) => k.node === d.name));
      const keyword = s.declarationList.flags & ts.NodeFlags.Const ? 'const' : s.declarationList.flags & ts.NodeFlags.Let ? 'let' : 'var';
      const modifiers = (ts.getModifiers(s) ?? []).map((m) => m.getText(declFile)).join(' ');
      out.push(`${modifiers} ${keyword} ${decls.map((d) => d.getText(declFile)).join(', ')};`.trim());
    } else if (ts.isImportDeclaration(s) && keep.length) {
      const clause = s.importClause!;
      const parts: string[] = [];
      if (clause.name && keep.some((k) => k.node === clause.name)) parts.push(clause.name.text);
      const b = clause.namedBindings;
      if (b && ts.isNamespaceImport(b) && keep.some((k) => k.node === b.name)) parts.push(`* as ${b.name.text}`);
      if (b && ts.isNamedImports(b)) {
        const specs = b.elements.filter((el) => keep.some((k) => k.node === el.name));
        if (specs.length) parts.push(`{ ${specs.map((el) => el.getText(declFile)).join(', ')} }`);
      }
      out.push(`import ${clause.isTypeOnly ? 'type ' : ''}${parts.join(', ')} from ${s.moduleSpecifier.getText(declFile)};`);
    }
    // A value whose declaration is dropped only for its type still exists at run time.
    for (const d of names) {
      const hidden = redeclared.get(d.name) ?? 0;
      const m = hidden ? meaningOf(ts, checker, d) : 0;
      if (m & hidden && m & VALUE && !(hidden & VALUE)) out.push(`declare let ${d.name}: any;`);
    }
  }
  return out.join('\n');
}
