// TypeScript reads its lib files (and the library's type bundle) with doc comments blanked out,
// which saves parsing them at every kernel start; hover text still shows them, read from the
// original file at the same position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as TS from 'typescript';
import { requireTypeScript } from '../src/kernel/compiler/tslab-adapter';
import { withoutDocComments, serveLibsWithoutDocComments, libDirectory } from '../src/kernel/compiler/doc-comments';
import { DeclarationDocs } from '../src/kernel/compiler/declaration-docs';
import { Compiler } from '../src/kernel/compiler/compiler';

const ts: typeof TS = requireTypeScript();

test('doc comments become spaces; positions, line breaks, other comments and strings stay', () => {
  const src =
    '/** Doc\n * more */\nexport declare function f(): void; /* plain */ // line\nconst s = "/** not a comment */";\n/**/ let x: 1;\n';
  const out = withoutDocComments(ts, src);
  assert.equal(out.length, src.length);
  assert.equal(out.split('\n').length, src.split('\n').length);
  assert.ok(!out.includes('Doc') && !out.includes('more'));
  for (const kept of ['/* plain */', '// line', '"/** not a comment */"', '/**/']) assert.ok(out.includes(kept), kept);
  assert.equal(out.indexOf('export declare function'), src.indexOf('export declare function'));
});

test('TypeScript sees lib files without doc comments; hover on Math.floor and Array.map still shows them', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'doc-comments-'));
  assert.equal(serveLibsWithoutDocComments(ts, cache), undefined);
  const es5 = path.join(libDirectory(ts), 'lib.es5.d.ts');
  assert.ok(!ts.sys.readFile(es5)!.includes('Returns the greatest integer'), 'the compiler reads the blanked copy');
  const libDir = libDirectory(ts);
  const compiler = new Compiler(ts, new DeclarationDocs(ts, (f) => (path.dirname(f) === libDir ? f : undefined)));
  assert.match(
    compiler.inspect('', 'Math.floor(1.5)', 7) ?? '',
    /floor\(x: number\): number\n\nReturns the greatest integer less than or equal to its numeric argument/,
  );
  assert.match(compiler.inspect('', '[1, 2].map((v) => v)', 9) ?? '', /Calls a defined callback function on each element of an array/);
  // Declarations without a comment have none to show.
  assert.doesNotMatch(compiler.inspect('', 'const mine = 1; mine', 17) ?? '', /\n\n/);
});
