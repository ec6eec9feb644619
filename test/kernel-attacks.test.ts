// The kernel under attack (issue 18, items 8-13), each case against a real jupyter_client
// (test/python/kernel_attacks.py), on 127.0.0.1, bounded in count and time.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from './helpers/jupyter';

let env: NodeJS.ProcessEnv;
before(() => {
  env = installKernelForTests();
});

function scenario(name: string): Record<string, number> {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'test', 'python', 'kernel_attacks.py'), name], {
    cwd: path.join(__dirname, '..', '..', 'test', 'python'),
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) console.log(out.slice(-6000));
  assert.equal(r.status, 0, `${name} failed`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  const result = JSON.parse(line!.slice(7)) as Record<string, number>;
  console.log(`# ${name}: ${JSON.stringify(result)}`);
  return result;
}

test('a signed message replayed three times runs once; a replayed interrupt_request is answered once', () => {
  scenario('replay');
});

test('msg_types named after Object.prototype members (constructor, valueOf, __proto__ ...) are unknown types', () => {
  scenario('prototype_names');
});

test('a header, parent header or metadata nested 5,000 deep is dropped and logged; no error lands in another cell', () => {
  scenario('deep_header');
});

test('a 100 MB frame is refused before it is read (RSS flat); TFJS_ESTIMATOR_MAX_MESSAGE_BYTES sets the limit', () => {
  scenario('big_frame');
});

test('a Promise as a cell value is awaited; late output, displays and errors of a finished cell land in that cell', () => {
  scenario('async_output');
});

test('heartbeat and interrupt_request answer while a cell runs a synchronous loop, and the interrupt stops it', () => {
  const r = scenario('control_thread');
  assert.ok(r.heartbeat_max_s < 0.5 && r.interrupt_reply_s < 0.5, JSON.stringify(r));
});

test('shutdown_request while a cell runs a synchronous loop: the loop is stopped and the kernel exits cleanly within seconds', () => {
  const r = scenario('shutdown_busy');
  assert.ok(r.shutdown_s < 3.5, `shutdown took ${r.shutdown_s} s`);
});
