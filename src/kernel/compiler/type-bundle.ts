// The preloaded library's declarations as one file. Every cell is type-checked in a new
// TypeScript program; with tfjs's ~600 declaration files, looking after that many files, not the
// cell, was most of a cell's latency. Rewriting each module file as a namespace inside one
// module file (imports become `import x = __mN.y` aliases) keeps every type and makes the
// program small. Doc comments are blanked out of the file TypeScript reads and kept in a twin.
//
// The bundle is generated once (at `tfjs-estimator install`, or by the kernel when the
// library's declarations changed) and kept in the kernel's cache folder (cache-dir.ts).
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import type * as TS from 'typescript';
import { writeAtomic } from './cache-dir';
import { withoutDocComments } from './doc-comments';
import { compiledRoot as distRoot } from '../../package-root';

/** Bumped whenever the generated text would change for the same inputs. */
const GENERATOR_VERSION = 4;

export interface TypeBundle {
  /** The bundle's declaration file (a module: `import * as x from dtsPath without .d.ts`). */
  dtsPath: string;
  /** The same path without extension: what the prelude imports (a .js twin exists there). */
  modulePath: string;
  /** Every name the library exports, values and types. */
  exportNames: string[];
  /**
   * The same declarations with their documentation comments, at the same positions: the file
   * TypeScript reads has them blanked out (parsing them was a sixth of the kernel's start-up),
   * and hover text takes them from here (declaration-docs.ts).
   */
  docsPath: string;
}

interface Meta {
  key: string;
  exportNames: string[];
  generatedMs: number;
}

/** dist/src/index: the library the kernel preloads. */
export const libraryEntry = path.join(distRoot, 'src', 'index');

/** What the bundle depends on: the library's .d.ts files and the packages' versions. */
function cacheKey(ts: typeof TS): string {
  const h = crypto.createHash('sha256');
  h.update(`v${GENERATOR_VERSION} ts${ts.version}\n`);
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      // Contents, not mtimes: every build rewrites the files, mostly unchanged.
      else if (e.name.endsWith('.d.ts')) h.update(`${p}\n`).update(fs.readFileSync(p));
    }
  };
  walk(path.join(distRoot, 'src'));
  for (const pkg of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-data',
    '@tensorflow/tfjs-converter',
    'protobufjs',
  ]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json by name, synchronously
      h.update(`${pkg}@${(require(`${pkg}/package.json`) as { version: string }).version}\n`);
    } catch {
      h.update(`${pkg} missing\n`);
    }
  }
  return h.digest('hex').slice(0, 16);
}

function readMeta(dir: string): Meta | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
}

/** The up-to-date bundle in cacheDir, generating it (a few seconds) when missing or stale. */
export function ensureTypeBundle(ts: typeof TS, cacheDir: string, log: (line: string) => void = () => undefined): TypeBundle {
  const dir = path.join(cacheDir, 'library-types');
  const key = cacheKey(ts);
  let meta = readMeta(dir);
  if (meta?.key !== key || !fs.existsSync(path.join(dir, 'index.d.ts')) || !fs.existsSync(path.join(dir, 'docs.d.ts'))) {
    const t0 = Date.now();
    const generated = generateTypeBundle(ts, `${libraryEntry}.d.ts`);
    meta = { key, exportNames: generated.exportNames, generatedMs: Date.now() - t0 };
    writeAtomic(path.join(dir, 'index.d.ts'), withoutDocComments(ts, generated.text));
    writeAtomic(path.join(dir, 'docs.d.ts'), generated.text);
    // At run time the bundle's module is the library itself.
    writeAtomic(path.join(dir, 'index.js'), `module.exports = require(${JSON.stringify(libraryEntry)});\n`);
    writeAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta));
    log(`generated the library's type bundle in ${meta.generatedMs} ms: ${dir}`);
  }
  return {
    dtsPath: path.join(dir, 'index.d.ts'),
    modulePath: path.join(dir, 'index'),
    exportNames: meta.exportNames,
    docsPath: path.join(dir, 'docs.d.ts'),
  };
}

// ---------------------------------------------------------------------------------- generator

/** Files left to the program the bundle is used in (Node's types) or dropped (browser-only globals). */
const EXTERNAL = /\/node_modules\/(@types\/node|undici-types|@webgpu\/types)\//;

interface ModuleFile {
  sf: TS.SourceFile;
  ns: string;
}

export function generateTypeBundle(ts: typeof TS, entry: string): { text: string; exportNames: string[] } {
  const options: TS.CompilerOptions = {
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    types: [],
    noLib: false,
    skipLibCheck: true,
    noEmit: true,
  };
  const program = ts.createProgram([entry], options);
  const checker = program.getTypeChecker();
  const resolutionCache = ts.createModuleResolutionCache(process.cwd(), (f) => f, options);
  const resolve = (from: string, spec: string): string | undefined =>
    ts.resolveModuleName(spec, from, options, ts.sys, resolutionCache).resolvedModule?.resolvedFileName;

  // Which files become namespaces: module files reachable from the entry, outside EXTERNAL.
  const modules = new Map<string, ModuleFile>();
  const bundled = (file: string | undefined): file is string => {
    if (!file || EXTERNAL.test(file) || !file.endsWith('.d.ts')) return false;
    const sf = program.getSourceFile(file);
    return !!sf && ts.isExternalModule(sf) && !program.isSourceFileDefaultLibrary(sf);
  };
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    if (modules.has(file) || !bundled(file)) continue;
    const sf = program.getSourceFile(file)!;
    modules.set(file, { sf, ns: `__m${modules.size}` });
    for (const spec of moduleSpecifiers(ts, sf)) {
      const target = resolve(file, spec);
      if (target && !modules.has(target)) queue.push(target);
    }
  }

  const externals = new Map<string, string>(); // module specifier -> alias of `import * as`
  const exportEquals = new Set<string>(); // files with `export =`
  for (const { sf } of modules.values())
    if (sf.statements.some((s) => ts.isExportAssignment(s) && s.isExportEquals)) exportEquals.add(sf.fileName);

  /** The entity name that stands for module `spec` as seen from `from`. */
  const moduleRef = (from: string, spec: string): string => {
    const target = resolve(from, spec);
    if (target && modules.has(target)) {
      const ns = modules.get(target)!.ns;
      return exportEquals.has(target) ? `${ns}.__exportEquals` : ns;
    }
    let alias = externals.get(spec);
    if (!alias) externals.set(spec, (alias = `__ext${externals.size}`));
    return alias;
  };
  const member = (name: string): string => (name === 'default' ? '__default' : name);

  const out: string[] = [];
  const hoisted: string[] = [];
  for (const mod of modules.values()) {
    const { sf, ns } = mod;
    const file = sf.fileName;
    const text = sf.text;
    const aliases: string[] = []; // import aliases, also copied into hoisted augmentations
    const aliasNames: string[] = [];
    const body: Array<{ text: string; names: string[]; exported: boolean }> = [];
    const line = (text: string): void => void body.push({ text, names: [], exported: true });
    const exportLocal = new Set<string>();
    const explicit = new Set<string>();
    const stars: string[] = [];
    const renamed: Array<[string, string]> = []; // `export { from as as }` of a local name

    /** Source text of `node` with import types rewritten to namespace references. */
    const render = (node: TS.Node, start = node.getFullStart()): string => {
      let result = '';
      let pos = start;
      const visit = (child: TS.Node): void => {
        if (child.end <= pos) return;
        if (ts.isImportTypeNode(child) && ts.isLiteralTypeNode(child.argument) && ts.isStringLiteral(child.argument.literal)) {
          const childStart = child.getStart(sf);
          result += text.slice(pos, childStart);
          let ref = moduleRef(file, child.argument.literal.text);
          if (child.qualifier) ref += '.' + entityText(ts, child.qualifier).split('.').map(member).join('.');
          const args = child.typeArguments ? `<${child.typeArguments.map((a) => render(a, a.getStart(sf))).join(', ')}>` : '';
          result += child.isTypeOf ? `typeof ${ref}${args}` : `${ref}${args}`;
          pos = child.end;
          return;
        }
        if (ts.isModifier(child) && (child.kind === ts.SyntaxKind.DeclareKeyword || child.kind === ts.SyntaxKind.DefaultKeyword)) {
          // Already ambient inside `declare namespace`; defaults become `__default` below.
          result += text.slice(pos, child.getStart(sf));
          pos = child.end;
          return;
        }
        ts.forEachChild(child, visit, (nodes) => nodes.forEach(visit));
      };
      visit(node);
      return result + text.slice(pos, node.end);
    };

    const importAliases = (stmt: TS.ImportDeclaration): void => {
      const clause = stmt.importClause;
      if (!clause) return; // side-effect import: its augmentations are bundled anyway
      const ref = moduleRef(file, (stmt.moduleSpecifier as TS.StringLiteral).text);
      if (clause.name) {
        aliases.push(`import ${clause.name.text} = ${ref}.__default;`);
        aliasNames.push(clause.name.text);
      }
      const b = clause.namedBindings;
      if (b && ts.isNamespaceImport(b)) {
        aliases.push(`import ${b.name.text} = ${ref};`);
        aliasNames.push(b.name.text);
      } else if (b) {
        for (const el of b.elements) {
          aliases.push(`import ${el.name.text} = ${ref}.${member((el.propertyName ?? el.name).text)};`);
          aliasNames.push(el.name.text);
        }
      }
    };

    for (const stmt of sf.statements) {
      if (ts.isImportDeclaration(stmt)) {
        importAliases(stmt);
      } else if (ts.isImportEqualsDeclaration(stmt)) {
        const ref =
          ts.isExternalModuleReference(stmt.moduleReference) && ts.isStringLiteral(stmt.moduleReference.expression)
            ? moduleRef(file, stmt.moduleReference.expression.text)
            : entityText(ts, stmt.moduleReference as TS.EntityName);
        const exported = stmt.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
        aliases.push(`${exported ? 'export ' : ''}import ${stmt.name.text} = ${ref};`);
        aliasNames.push(stmt.name.text);
        if (exported) explicit.add(stmt.name.text);
      } else if (ts.isExportDeclaration(stmt)) {
        const spec = stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier) ? stmt.moduleSpecifier.text : undefined;
        const clause = stmt.exportClause;
        if (spec !== undefined && !clause) {
          stars.push(spec);
        } else if (spec !== undefined && clause && ts.isNamespaceExport(clause)) {
          line(`export import ${member(clause.name.text)} = ${moduleRef(file, spec)};`);
          explicit.add(clause.name.text);
        } else if (clause && ts.isNamedExports(clause)) {
          for (const el of clause.elements) {
            const from = (el.propertyName ?? el.name).text;
            const as = el.name.text;
            explicit.add(as);
            if (spec !== undefined) line(`export import ${member(as)} = ${moduleRef(file, spec)}.${member(from)};`);
            else if (from === as) exportLocal.add(as);
            else renamed.push([as, from]);
          }
        }
      } else if (ts.isExportAssignment(stmt)) {
        if (ts.isIdentifier(stmt.expression)) renamed.push([stmt.isExportEquals ? '__exportEquals' : '__default', stmt.expression.text]);
      } else if (ts.isNamespaceExportDeclaration(stmt)) {
        // `export as namespace X`: a UMD global, not wanted in cells.
      } else if (ts.isModuleDeclaration(stmt) && ts.isStringLiteral(stmt.name)) {
        // `declare module '../tensor' { ... }`: merge into that module's namespace.
        const target = resolve(file, stmt.name.text);
        if (target && modules.has(target) && stmt.body && ts.isModuleBlock(stmt.body)) {
          const targetNs = modules.get(target)!.ns;
          const targetExports = exportNamesOf(ts, checker, modules.get(target)!.sf);
          // Declarations in an augmentation are exported implicitly; in a namespace they must say so.
          const inner = stmt.body.statements.map((s) => (hasExportModifier(ts, s) ? render(s) : addExportModifier(render(s))));
          hoisted.push(`declare namespace ${targetNs} {\n${pendingAliases(aliases, aliasNames, targetExports)}\n${inner.join('\n')}\n}`);
        } else {
          hoisted.push(render(stmt));
        }
      } else if (ts.isModuleDeclaration(stmt) && stmt.flags & ts.NodeFlags.GlobalAugmentation) {
        hoisted.push(render(stmt));
      } else {
        const names = declaredNames(ts, stmt);
        const isDefault = ts.canHaveModifiers(stmt) && (ts.getModifiers(stmt) ?? []).some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
        let t = render(stmt);
        if (isDefault) {
          if (names[0]) line(`export import __default = ${ns}.${names[0]};`);
          else t = t.replace(/\b(class|function)\b/, '$1 __default');
        }
        const exported = hasExportModifier(ts, stmt);
        body.push({ text: t, names, exported });
        if (exported) names.forEach((n) => explicit.add(n));
      }
    }

    // `export { a as b }`: an alias must name its target qualified (`import b = a` would look
    // `a` up as a namespace only), so go through the import's target or this namespace.
    for (const [as, from] of renamed) {
      const i = aliasNames.indexOf(from);
      if (i >= 0) line(`export import ${member(as)} = ${/= (.*);$/.exec(aliases[i])![1]};`);
      else {
        exportLocal.add(from);
        line(`export import ${member(as)} = ${ns}.${from};`);
      }
    }
    // `export { a }` naming a local declaration or import: that one gets the export modifier.
    for (let i = 0; i < aliases.length; i++) {
      if (exportLocal.has(aliasNames[i]) && !aliases[i].startsWith('export ')) aliases[i] = `export ${aliases[i]}`;
    }
    for (const entry of body) {
      if (!entry.exported && entry.names.some((n) => exportLocal.has(n))) entry.text = addExportModifier(entry.text);
    }
    // `export * from '../x'`: each name x exports that this file does not export itself.
    const starLines: string[] = [];
    const seen = new Set<string>([...explicit, ...exportLocal]);
    for (const spec of stars) {
      const target = resolve(file, spec);
      const names = target && modules.has(target) ? exportNamesOf(ts, checker, modules.get(target)!.sf) : [];
      const ref = moduleRef(file, spec);
      for (const n of names) {
        if (n === 'default' || seen.has(n)) continue;
        seen.add(n);
        starLines.push(`export import ${n} = ${ref}.${n};`);
      }
    }
    // `export {}` (a grammar error TypeScript reports only with checked libs) stops the ambient
    // namespace from exporting every member: the module's private names stay private.
    out.push(
      `// ${path.relative(distRoot, file)}\ndeclare namespace ${ns} {\nexport {};\n${aliases.join('\n')}\n${starLines.join('\n')}\n${body.map((b) => b.text).join('\n')}\n}`,
    );
  }

  const root = modules.get(entry)!;
  const exportNames = exportNamesOf(ts, checker, root.sf).filter((n) => n !== 'default');
  const header = [
    "// Generated by tfjs-estimator (src/kernel/compiler/type-bundle.ts) from the library's declaration files: do not edit.",
    ...[...externals].map(([spec, alias]) => `import * as ${alias} from ${JSON.stringify(spec)};`),
  ];
  // `export {}` keeps the __mN namespaces private: a declaration file without one exports everything.
  const footer = ['export {};', ...exportNames.map((n) => `export import ${n} = ${root.ns}.${n};`)];
  return { text: [...header, ...out, ...hoisted, ...footer, ''].join('\n'), exportNames };
}

/** Aliases to repeat inside a hoisted augmentation, minus names the target module declares. */
function pendingAliases(aliases: string[], names: string[], targetExports: string[]): string {
  const taken = new Set(targetExports);
  return aliases
    .filter((_, i) => !taken.has(names[i]))
    .map((a) => a.replace(/^export /, ''))
    .join('\n');
}

function exportNamesOf(ts: typeof TS, checker: TS.TypeChecker, sf: TS.SourceFile): string[] {
  const sym = checker.getSymbolAtLocation(sf);
  return sym ? checker.getExportsOfModule(sym).map((s) => s.name) : [];
}

function moduleSpecifiers(ts: typeof TS, sf: TS.SourceFile): string[] {
  const specs: string[] = [];
  const visit = (n: TS.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier))
      specs.push(n.moduleSpecifier.text);
    else if (
      ts.isImportEqualsDeclaration(n) &&
      ts.isExternalModuleReference(n.moduleReference) &&
      ts.isStringLiteral(n.moduleReference.expression)
    )
      specs.push(n.moduleReference.expression.text);
    else if (ts.isModuleDeclaration(n) && ts.isStringLiteral(n.name)) specs.push(n.name.text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal))
      specs.push(n.argument.literal.text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return specs;
}

function entityText(ts: typeof TS, e: TS.EntityName): string {
  return ts.isIdentifier(e) ? e.text : `${entityText(ts, e.left)}.${e.right.text}`;
}

function hasExportModifier(ts: typeof TS, n: TS.Node): boolean {
  return ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function declaredNames(ts: typeof TS, stmt: TS.Statement): string[] {
  if (ts.isVariableStatement(stmt)) {
    return stmt.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  }
  const named = stmt as unknown as { name?: TS.Node };
  if (named.name && ts.isIdentifier(named.name)) return [named.name.text];
  return [];
}

/** Inserts `export ` before the declaration keyword, after any leading comments. */
function addExportModifier(t: string): string {
  return t.replace(/^((?:\s|\/\*[\s\S]*?\*\/|\/\/[^\n]*\n)*)/, '$1export ');
}
