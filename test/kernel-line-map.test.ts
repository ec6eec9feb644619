// Stack positions in the compiled JavaScript of a cell map back to the TypeScript the user wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineMap } from '../src/kernel/cells/line-map';

test('type annotations, blank lines, exports and a statement printed over two lines map to their source lines', () => {
  const src = [
    'interface P { n: number }',
    '',
    'function scale(p: P, k: number): number {',
    '  const q: P = { n: p.n * k };',
    "  if (q.n > 10) throw new Error('too big');",
    '  return q.n;',
    '}',
    'const total: number = scale({ n: 1 }, 2);',
  ].join('\n');
  const out = [
    'function scale(p, k) {',
    '    const q = { n: p.n * k };',
    '    if (q.n > 10)',
    "        throw new Error('too big');",
    '    return q.n;',
    '}',
    'const total = scale({ n: 1 }, 2);',
    'exports.total = total;',
  ].join('\n');
  const map = new LineMap(src, out);
  assert.deepEqual(map.map(4, 15), { line: 5, column: 23 }, '`new` of the throw');
  assert.deepEqual(map.map(2, 11), { line: 4, column: 9 }, '`q` of the declaration');
  assert.deepEqual(map.map(7, 15), { line: 8, column: 23 }, 'the call of scale');
  assert.equal(map.map(8, 1).line, 8, 'the added export line belongs to the declaration above it');
});

test('a line before any match keeps its position', () => {
  const map = new LineMap('const a = 1;', '"use strict";\nconst a = 1;');
  assert.deepEqual(map.map(1, 1), { line: 1, column: 1 });
  assert.deepEqual(map.map(2, 7), { line: 1, column: 7 });
});
