import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from './helpers/jupyter';

let env: NodeJS.ProcessEnv;
before(() => {
  env = installKernelForTests();
});

function scenario(name: string, extraEnv: NodeJS.ProcessEnv = {}): Record<string, number> {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'test', 'python', 'kernel_behaviour.py'), name], {
    env: { ...env, ...extraEnv },
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

test('interrupt stops a synchronous busy loop with KeyboardInterrupt and the kernel keeps running', () => {
  scenario('interrupt_busy_loop');
});

test('interrupt during await est.train() stops at a step boundary, saves, and the next train resumes there', () => {
  const r = scenario('interrupt_training');
  assert.ok(r.progress_messages >= 1, 'training showed a live progress display');
});

test('restart the kernel, then training resumes from the checkpoint', () => {
  scenario('restart_resume');
});

test('a badly signed message is never executed; garbage frames on every channel are dropped; the kernel stays alive', () => {
  scenario('bad_messages');
});

test('1,000 cells in a row: latency and memory stay flat', () => {
  scenario('many_cells', { CELLS: process.env.KERNEL_CELLS ?? '1000' });
});

test('library types as a user sees them: hover with docs, completion, type errors at cell line and column, nothing of the type bundle', () => {
  scenario('library_types');
});

test("timer throws and forgotten rejections reported in their cell; listens only on the connection file's ports; never prints its key; process.exit() ends it cleanly and it restarts", () => {
  scenario('faults_and_security');
});

test('thousands of display updates a second are coalesced to a few, ending on the last value', () => {
  const r = scenario('display_flood');
  assert.ok(r.updates_sent < r.updates_made / 50, `${r.updates_sent} of ${r.updates_made} updates sent`);
});
