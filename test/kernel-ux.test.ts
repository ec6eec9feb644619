import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from './helpers/jupyter';

// What a new user meets in the kernel (completion, type errors, error excerpts), driven by a
// real jupyter_client (test/python/kernel_ux.py).
let env: NodeJS.ProcessEnv;
before(() => {
  env = installKernelForTests();
});

function scenario(name: string): Record<string, number> {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'test', 'python', 'kernel_ux.py'), name], {
    env,
    cwd: path.join(__dirname, '..', '..', 'test', 'python'),
    encoding: 'utf8',
    timeout: 300_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) console.log(out);
  assert.equal(r.status, 0, `${name} failed`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  const result = JSON.parse(line!.slice(7)) as Record<string, number>;
  console.log(`# ${name}: ${JSON.stringify(result)}`);
  return result;
}

test('completion after tf. and est. offers no kernel-name constants and no underscore members', () => {
  scenario('completion');
});

test('type errors name what the user typed (not the type bundle) and point TF habits at the preloaded globals', () => {
  scenario('type_hints');
});

test("runtime errors show the user's frames first in their TypeScript, once, with library and Node frames folded", () => {
  scenario('error_excerpts');
});

test('plotly.js travels with the first chart of every cell run (a re-run cell brings its own)', () => {
  scenario('chart_carriers');
});
