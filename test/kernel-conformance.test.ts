import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from './helpers/jupyter';

let env: NodeJS.ProcessEnv;
before(() => {
  env = installKernelForTests();
});

test('jupyter_kernel_test passes every test against the installed kernel, none skipped', () => {
  const r = spawnSync('/usr/bin/python3', ['-m', 'unittest', '-v', 'test_kernel_conformance'], {
    cwd: path.join(__dirname, '..', '..', 'test', 'python'),
    env,
    encoding: 'utf8',
    timeout: 240_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) console.log(out);
  assert.equal(r.status, 0, 'jupyter_kernel_test failed');
  const ran = /Ran (\d+) tests/.exec(out);
  assert.ok(ran && Number(ran[1]) >= 12, `ran ${ran?.[1]} tests`);
  // unittest marks skips as '... skipped' and 'OK (skipped=N)'.
  assert.doesNotMatch(out, /\.\.\. skipped|skipped=\d/, 'no test may be skipped for lack of a sample');
});
