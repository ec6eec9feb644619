// ESLint (typescript-eslint's recommended rules, eslint.config.mjs) and Prettier
// (.prettierrc.json) over the whole tree, as part of `npm test`: a lint error or an unformatted
// file fails the suite like any other test. `npm run format` fixes the formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { packageRoot } from '../src/package-root';

const root = packageRoot();
const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);

function run(tool: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(bin(tool), args, { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('ESLint reports nothing (every eslint-disable still needed and says why)', () => {
  const r = run('eslint', ['.']);
  assert.equal(r.status, 0, `npx eslint . found problems:\n${r.output.slice(-4000)}`);
});

test('every source file is formatted by Prettier', () => {
  const r = run('prettier', ['--check', '.']);
  assert.equal(r.status, 0, `npx prettier --check . (fix with npm run format):\n${r.output.slice(-4000)}`);
});

test('every eslint-disable comment says why (eslint-disable-next-line rule -- reason)', () => {
  const bare: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) {
        fs.readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/\/[/*].*eslint-disable/.test(line) && !/ -- \S/.test(line))
              bare.push(`${path.relative(root, p)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  for (const dir of ['src', 'test', 'bench', 'scripts']) walk(path.join(root, dir));
  assert.deepEqual(bare, [], 'disable comments without a reason');
});
