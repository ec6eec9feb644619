// The public API (what src/index.ts exports, and the kernel preloads as globals) is documented
// and holds no internal machinery. Reads the source with TypeScript's checker: every exported
// symbol, every member of the namespace objects (train.adam, display.image, logging.WARN, ...)
// and every public member of an exported class or interface (Estimator.train, options fields)
// must carry a doc comment, since that is what Shift-Tab in the kernel shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import type * as TS from 'typescript';
import { requireTypeScript } from '../src/kernel/compiler/tslab-adapter';
import { packageRoot } from '../src/package-root';

const ts: typeof TS = requireTypeScript();

/** Names that are the library's own plumbing: reachable from the public API they invite misuse. */
const INTERNAL = [
  'setActiveCollector',
  'activeCollector',
  'withCollector',
  'SummaryCollector',
  'closeAllWriters',
  'EvalSummaryHook',
  'writeEvalSummary',
  'ProgressHook',
  'requestInterrupt',
];

interface Surface {
  /** Public path (`train.adam`) -> whether it has a doc comment. */
  documented: Map<string, boolean>;
}

function walk(): Surface {
  const index = path.join(packageRoot(), 'src', 'index.ts');
  const program = ts.createProgram([index], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const indexFile = program.getSourceFile(index);
  assert.ok(indexFile, 'src/index.ts is in the program');
  const moduleSymbol = checker.getSymbolAtLocation(indexFile);
  assert.ok(moduleSymbol, 'src/index.ts is a module');
  const documented = new Map<string, boolean>();
  const resolve = (s: TS.Symbol): TS.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const hasDoc = (s: TS.Symbol): boolean =>
    s.getDocumentationComment(checker).some((p) => p.text.trim() !== '') ||
    (s.declarations ?? []).some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
  const ownFile = (s: TS.Symbol): boolean => (s.declarations ?? []).some((d) => !d.getSourceFile().fileName.includes('node_modules'));

  const isModule = (s: TS.Symbol): boolean => (s.flags & ts.SymbolFlags.ValueModule) !== 0 && (s.declarations ?? []).some(ts.isSourceFile);

  const isPublicMember = (member: TS.Symbol): boolean => {
    const hidden = (member.declarations ?? []).some(
      (d) =>
        (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
        ((d as TS.NamedDeclaration).name !== undefined && ts.isPrivateIdentifier((d as TS.NamedDeclaration).name!)),
    );
    // A constructor's doc lives on the class (and its @params); `_x` and symbol-keyed members are hooks for tools.
    const name = member.getName();
    return (
      !hidden && !(member.flags & ts.SymbolFlags.TypeParameter) && name !== 'prototype' && name !== '__constructor' && !name.startsWith('_')
    );
  };
  const visit = (name: string, target: TS.Symbol): void => {
    documented.set(name, hasDoc(target));
    const decl = target.valueDeclaration;
    // Namespace objects (`display`, `logging`, `datasets`, `initializers`): their properties.
    if (decl && ts.isVariableDeclaration(decl)) {
      for (const prop of checker.getPropertiesOfType(checker.getTypeOfSymbol(target))) {
        if (ownFile(prop)) documented.set(`${name}.${prop.getName()}`, hasDoc(prop));
      }
    }
    // Classes and interfaces: their public members, and static members of classes. A member
    // without its own comment may inherit one from what it implements (hook methods).
    if (target.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) {
      for (const member of [...(target.members?.values() ?? []), ...(target.exports?.values() ?? [])]) {
        if (isPublicMember(member)) documented.set(`${name}.${member.getName()}`, hasDoc(member));
      }
    }
  };

  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const name = exported.getName();
    if (name === 'tf') continue; // tfjs itself, documented upstream
    const target = resolve(exported);
    if (isModule(target)) {
      // A namespace (`train`, `layers`, ...): each of its exports is public.
      for (const member of checker.getExportsOfModule(target)) {
        const m = resolve(member);
        if (ownFile(m)) visit(`${name}.${member.getName()}`, m);
      }
    } else {
      visit(name, target);
    }
  }
  return { documented };
}

const surface = walk();

test('the public API reaches no internal machinery', () => {
  const reachable = [...surface.documented.keys()];
  const leaks = reachable.filter((p) => INTERNAL.includes(p.split('.').pop() ?? ''));
  assert.deepEqual(leaks, [], `internal names on the public API: ${leaks.join(', ')}`);
  // The walk saw the namespaces at all (a broken walk would pass the check above vacuously).
  for (const p of [
    'Estimator',
    'train.adam',
    'layers.conv2d',
    'metrics.accuracy',
    'display.image',
    'hooks.LoggingTensorHook',
    'logging.setVerbosity',
    'Estimator.train',
  ]) {
    assert.ok(surface.documented.has(p), `${p} is on the public surface`);
  }
});

test('every public symbol has a doc comment', () => {
  const missing = [...surface.documented].filter(([, doc]) => !doc).map(([p]) => p);
  assert.deepEqual(missing, [], `${missing.length} public symbols without a /** doc comment */:\n${missing.join('\n')}`);
});
