// tslab is used for its TypeScript build, that build's private services and isCompleteCode;
// compiler/tslab-adapter.ts is the one file that names them, so replacing tslab touches one file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../src/package-root';

const src = path.join(packageRoot(), 'src');
const ADAPTER = path.join('kernel', 'compiler', 'tslab-adapter.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('only compiler/tslab-adapter.ts names a tslab module', () => {
  // A module specifier in quotes: 'tslab', 'tslab/...', '@tslab/...' (imports, require, require.resolve).
  const names = /['"`](?:@tslab\/|tslab(?:\/|['"`]))/;
  const offenders = sourceFiles(src)
    .filter((f) => path.relative(src, f) !== ADAPTER)
    .flatMap((f) =>
      fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${path.relative(src, f)}:${i + 1}` }))
        .filter(({ line }) => names.test(line))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
  assert.deepEqual(offenders, []);
  assert.match(fs.readFileSync(path.join(src, ADAPTER), 'utf8'), /'@tslab\/typescript-for-tslab'/);
});
