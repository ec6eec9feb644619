import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, ChildProcess } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { latestCheckpoint, loadCheckpoint, stepOfCheckpoint } from '../src/estimator/checkpoint';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { setQuiet } from '../src/host/log';
import { tmpDir } from './helpers/tmp';

setQuiet(true);
const CHILD = path.join(__dirname, 'fixtures', 'train-child.js');

function startChild(dir: string, steps?: number): ChildProcess {
  return spawn(process.execPath, [CHILD, dir, ...(steps ? [String(steps)] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves once the child printed `step N` with N >= minSteps after its start. */
function waitForStep(child: ChildProcess, minSteps = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    let seen = 0;
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d: Buffer) => {
      seen += (d.toString().match(/step \d+/g) ?? []).length;
      if (seen >= minSteps) resolve();
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before training: ${err}`)));
  });
}

test('SIGKILL at random moments during training and checkpointing always leaves a loadable checkpoint', async () => {
  const dir = tmpDir('crash-');
  const trials = Number(process.env.CRASH_TRIALS ?? 60); // CRASH_TRIALS=1000 for a long soak
  const budgetMs = Number(process.env.CRASH_BUDGET_MS ?? 150_000);
  const started = Date.now();
  let lastStep = 0;
  let done = 0;
  for (; done < trials && Date.now() - started < budgetMs; done++) {
    const child = startChild(dir);
    await waitForStep(child);
    // Each step saves a checkpoint, so a kill a few ms later lands anywhere in a save.
    await new Promise((r) => setTimeout(r, Math.random() * 60));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const latest = latestCheckpoint(dir);
    // Killed before its first save ever completed: nothing to restore yet, and that is all.
    if (!latest) {
      assert.equal(lastStep, 0, `trial ${done}: the checkpoint of step ${lastStep} disappeared`);
      continue;
    }
    const loaded = loadCheckpoint(latest!); // throws on a partial or corrupt checkpoint
    const step = stepOfCheckpoint(latest!)!;
    assert.equal(loaded.meta.globalStep, step);
    assert.ok(step >= lastStep, `trial ${done}: checkpoint went back from ${lastStep} to ${step}`);
    lastStep = step;
    tf.dispose(loaded.tensors);
  }
  assert.ok(done >= Math.min(trials, 40), `only ${done} trials fitted in the time budget`);
  // A new process resumes where the last complete checkpoint stopped.
  const child = startChild(dir, 1);
  const out = await new Promise<string>((resolve) => {
    let s = '';
    child.stdout!.on('data', (d) => (s += d));
    child.on('exit', () => resolve(s));
  });
  assert.match(out, new RegExp(`step ${lastStep + 1}\\b`));
  assert.ok(
    fs.readdirSync(dir).every((n) => !n.includes('.tmp-')),
    'temporary files of killed writers are cleaned up',
  );
  console.log(`# ${done} kill trials in ${((Date.now() - started) / 1000).toFixed(1)} s, last step ${lastStep}`);
});

test("a second process training the same modelDir gets a clear error, and a killed trainer's lock is taken over", async () => {
  const dir = tmpDir('lock-');
  const child = startChild(dir);
  await waitForStep(child, 3); // step 2's checkpoint is on disk by now
  const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    const loss = tf.mean(tf.square(tf.sub(layers.dense(x, 1), y!))) as tf.Scalar;
    return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
  const input = () => [{ xs: tf.ones([2, 8]), ys: tf.ones([2, 1]) }];
  await assert.rejects(new Estimator(modelFn, dir).train(input, { steps: 1 }), /being trained by another process \(pid \d+/);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.existsSync(path.join(dir, '.train.lock')), 'the killed trainer left its lock behind');
  // The stale lock is recognised (its pid is gone): training goes ahead.
  const est = new Estimator(modelFn, dir, { warmStartFrom: undefined });
  await assert.rejects(est.train(input, { steps: 1 }), /Checkpoint variable dense\/kernel has shape \[8,256\]/);
  assert.ok(!fs.existsSync(path.join(dir, '.train.lock')), 'lock released after the failed call');
});
