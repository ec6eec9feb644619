// The names a cell declares at its top level: what later cells can see, so what the cell must
// export. Read from the syntax alone (before the cell's program exists): declarations of every
// kind and the names bound by imports and destructuring. A `var` inside a block or loop is left
// out: TypeScript's declaration output has no place for it, so later cells could not see it.
import type * as TS from 'typescript';

export interface DeclaredName {
  name: string;
  /** The identifier that declares it (for asking the checker what it means). */
  node: TS.Identifier;
  /** The top-level statement it belongs to (its kind says what the name means). */
  statement: TS.Statement;
  /** Declared with `export` (by the user): exported already. */
  exported: boolean;
}

/** Names declared at the top level of a file, each once. */
export function topLevelNames(ts: typeof TS, sf: TS.SourceFile): DeclaredName[] {
  const seen = new Set<string>();
  // Declaration merging (function overloads, interface + namespace) repeats a name.
  return sf.statements.flatMap((s) => statementNames(ts, s)).filter((d) => !seen.has(d.name) && seen.add(d.name));
}

/** The top-level names one statement declares. */
export function statementNames(ts: typeof TS, s: TS.Statement): DeclaredName[] {
  const out: DeclaredName[] = [];
  const exported = (ts.canHaveModifiers(s) ? (ts.getModifiers(s) ?? []) : []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  const add = (id: TS.Identifier | undefined): void => {
    if (id) out.push({ name: id.text, node: id, statement: s, exported });
  };
  const addBinding = (name: TS.BindingName): void => {
    if (ts.isIdentifier(name)) return add(name);
    for (const el of name.elements) if (!ts.isOmittedExpression(el)) addBinding(el.name);
  };
  if (ts.isVariableStatement(s)) {
    for (const d of s.declarationList.declarations) addBinding(d.name);
  } else if (
    ts.isFunctionDeclaration(s) ||
    ts.isClassDeclaration(s) ||
    ts.isEnumDeclaration(s) ||
    ts.isInterfaceDeclaration(s) ||
    ts.isTypeAliasDeclaration(s)
  ) {
    add(s.name);
  } else if (ts.isModuleDeclaration(s)) {
    // `declare module 'x'` and `declare global` name no binding.
    if (ts.isIdentifier(s.name) && !(s.flags & ts.NodeFlags.GlobalAugmentation)) add(s.name);
  } else if (ts.isImportDeclaration(s)) {
    const clause = s.importClause;
    add(clause?.name);
    const b = clause?.namedBindings;
    if (b && ts.isNamespaceImport(b)) add(b.name);
    else if (b) for (const el of b.elements) add(el.name);
  } else if (ts.isImportEqualsDeclaration(s)) {
    add(s.name);
  }
  return out;
}
