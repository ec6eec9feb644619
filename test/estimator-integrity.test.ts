// Data integrity under damage and hostile file systems: a deleted meta.json, orphaned
// checkpoint folders, a checkpoint missing variables, a modelDir that is a file, read-only or
// on a full disk, and an inputFn that throws. Real mounts (tmpfs, read-only bind mounts) as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import { CheckpointError, latestCheckpoint, readState } from '../src/estimator/checkpoint';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { getVariable, initializers } from '../src/framework/variables';
import { setLogSink, setQuiet } from '../src/host/log';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

const modelFn =
  (depth: number, withScale = false) =>
  (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
    let h = x;
    for (let i = 0; i < depth; i++) h = layers.dense(h, 4, { activation: 'tanh' });
    let pred = layers.dense(h, 1);
    if (withScale) pred = tf.mul(pred, getVariable('head/scale', [1], { initializer: initializers.ones() }));
    if (mode === 'infer') return new EstimatorSpec({ mode, predictions: pred });
    const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
    return new EstimatorSpec({
      mode,
      loss,
      predictions: pred,
      trainOp: mode === 'train' ? train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) : undefined,
    });
  };
const input = () => linearDataset(64).repeat();
const evalInput = () => linearDataset(16);

/** Log lines written while fn runs (the Estimator's warnings), each as 'LEVEL line'. */
async function capturingLog<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  setQuiet(false);
  setLogSink((l, level) => lines.push(`${level.toUpperCase()} ${l}`));
  try {
    return { result: await fn(), lines };
  } finally {
    setQuiet(true);
    setLogSink(undefined);
  }
}

function ckptDirs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.startsWith('model.ckpt-'))
    .sort();
}

async function trainedDir(prefix: string): Promise<string> {
  const dir = tmpDir(prefix);
  const est = new Estimator(modelFn(1), dir);
  await est.train(input, { steps: 3 });
  await est.train(input, { steps: 3 });
  return dir;
}

test('a deleted meta.json of the newest checkpoint is a CheckpointError naming it; fallback restores the previous one with a warning', async () => {
  const dir = await trainedDir('nometa-');
  const meta = path.join(dir, 'model.ckpt-6', 'meta.json');
  fs.rmSync(meta);
  const est = new Estimator(modelFn(1), dir);
  const named = (e: Error) => e instanceof CheckpointError && e.message.includes(meta) && /fallbackToPreviousCheckpoint/.test(e.message);
  await assert.rejects(est.train(input, { steps: 1 }), named);
  await assert.rejects(est.evaluate(evalInput), named);
  assert.throws(() => latestCheckpoint(dir), named);
  const { result, lines } = await capturingLog(() => est.evaluate(evalInput, { fallbackToPreviousCheckpoint: true }));
  assert.equal(result.globalStep, 3, 'the previous checkpoint was restored');
  assert.ok(
    lines.some((l) => l.startsWith('WARN Skipping corrupt checkpoint') && l.includes(meta)),
    lines.join('\n'),
  );
  await est.train(input, { steps: 1, fallbackToPreviousCheckpoint: true });
  assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-4'));
});

test('the next save removes every checkpoint folder the state file does not keep: orphans of a kill, and half-deleted ones', async () => {
  const dir = tmpDir('orphans-');
  const est = new Estimator(modelFn(1), dir, { config: { keepCheckpointMax: 2, saveCheckpointsSteps: 1 } });
  await est.train(input, { steps: 4 });
  assert.deepEqual(ckptDirs(dir), ['model.ckpt-3', 'model.ckpt-4']);
  // What a kill between writing the state file and deleting the old folders leaves behind.
  for (const n of ['model.ckpt-1', 'model.ckpt-2']) fs.cpSync(path.join(dir, 'model.ckpt-3'), path.join(dir, n), { recursive: true });
  // A half-deleted one: its meta.json already gone.
  fs.cpSync(path.join(dir, 'model.ckpt-3'), path.join(dir, 'model.ckpt-0'), { recursive: true });
  fs.rmSync(path.join(dir, 'model.ckpt-0', 'meta.json'));
  await est.train(input, { steps: 1 });
  assert.deepEqual(ckptDirs(dir), ['model.ckpt-4', 'model.ckpt-5']);
  assert.deepEqual(readState(dir)!.allModelCheckpointPaths, ['model.ckpt-4', 'model.ckpt-5']);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.includes('.tmp-')),
    [],
    'no temporaries left',
  );
});

test('a corrupt state file is rebuilt from the folders on disk: keepCheckpointMax still keeps the newest ones', async () => {
  const dir = tmpDir('rebuild-');
  const est = new Estimator(modelFn(1), dir, { config: { keepCheckpointMax: 3, saveCheckpointsSteps: 1 } });
  await est.train(input, { steps: 3 });
  fs.writeFileSync(path.join(dir, 'checkpoint'), '{"broken');
  await est.train(input, { steps: 1, fallbackToPreviousCheckpoint: true });
  assert.deepEqual(ckptDirs(dir), ['model.ckpt-2', 'model.ckpt-3', 'model.ckpt-4']);
});

test('restoring a checkpoint that lacks variables the model creates is an error naming them and the fix', async () => {
  const dir = tmpDir('missing-');
  await new Estimator(modelFn(1), dir).train(input, { steps: 2 });
  const before = latestCheckpoint(dir);
  const deeper = new Estimator(modelFn(1, true), dir);
  const named = (e: Error) =>
    /has no values for \d variable\(s\) the model creates: head\/scale[,.]/.test(e.message) &&
    e.message.includes(`warmStartFrom: '${dir}'`) &&
    /new modelDir/.test(e.message);
  await assert.rejects(deeper.train(input, { steps: 1 }), named);
  assert.equal(latestCheckpoint(dir), before, 'nothing was saved');
  await assert.rejects(deeper.evaluate(evalInput), named);
  await assert.rejects(async () => {
    for await (const _ of deeper.predict(evalInput)) void _;
  }, named);
  // The fix the message names works.
  const warm = new Estimator(modelFn(1, true), tmpDir('missing-warm-'), { warmStartFrom: dir });
  await warm.train(input, { steps: 1 });
  assert.ok(warm.latestCheckpoint()!.endsWith('model.ckpt-1'));
});

test('a modelDir that is a file is a clear error in train, evaluate and predict', async () => {
  const file = path.join(tmpDir('isfile-'), 'model');
  fs.writeFileSync(file, 'not a directory');
  const est = new Estimator(modelFn(1), file);
  await assert.rejects(est.train(input, { steps: 1 }), /train: modelDir .*model is a file, not a directory; pass a directory path/);
  await assert.rejects(est.evaluate(evalInput), /evaluate: modelDir .*model is a file, not a directory/);
  await assert.rejects(async () => {
    for await (const _ of est.predict(evalInput)) void _;
  }, /predict: modelDir .*model is a file, not a directory/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a directory');
});

test('a read-only modelDir: train is a clear error; evaluate and predict work, skipping summaries with a warning', async (t) => {
  const dir = await trainedDir('readonly-');
  const listing = fs.readdirSync(dir).sort();
  // A real read-only file system: a read-only bind mount of the directory onto itself.
  execFileSync('mount', ['--bind', dir, dir]);
  t.after(() => execFileSync('umount', ['-l', dir]));
  execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
  const est = new Estimator(modelFn(1), dir);
  await assert.rejects(
    est.train(input, { steps: 1 }),
    /train: modelDir .* is read-only \(EROFS writing \.train\.lock\); training writes checkpoints there\. Use a writable modelDir; to continue from the checkpoints in this one, pass warmStartFrom/,
  );
  const { result, lines } = await capturingLog(() => est.evaluate(evalInput));
  assert.equal(result.globalStep, 6);
  assert.ok(
    lines.some((l) => /^WARN evaluate\(\) could not write its summaries .*EROFS/.test(l)),
    lines.join('\n'),
  );
  let n = 0;
  for await (const _ of est.predict(evalInput)) n += 1;
  assert.equal(n, 16);
  assert.deepEqual(fs.readdirSync(dir).sort(), listing, 'nothing changed');
});

test('a full disk before the lock is written: a clear error, no .train.lock left, no file descriptor leaked', async (t) => {
  const mnt = tmpDir('full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
  t.after(() => execFileSync('umount', ['-l', mnt]));
  const dir = path.join(mnt, 'model');
  fs.mkdirSync(dir);
  // Fill the file system to the last byte.
  const fd = fs.openSync(path.join(mnt, 'filler'), 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  const fds = fs.readdirSync('/proc/self/fd').length;
  const est = new Estimator(modelFn(1), dir);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      est.train(input, { steps: 1 }),
      /train: no space left on the device of modelDir .*model \(ENOSPC writing \.train\.lock\); free some space or use another modelDir\. Nothing was written\./,
    );
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'no lock, no temporary file');
  assert.equal(fs.readdirSync('/proc/self/fd').length, fds, 'no file descriptor leaked');
});

test('an inputFn that throws is reported with its context: which call, mode and step', async () => {
  const est = new Estimator(modelFn(1), tmpDir('inputfn-'));
  const broken = () => {
    throw new Error('no such file: train.csv');
  };
  await assert.rejects(
    est.train(broken, { steps: 1 }),
    /no such file: train\.csv\n {2}\(raised by inputFn, called by train\(\) in train mode at global step 0\)/,
  );
  await est.train(input, { steps: 2 });
  // A dataset whose map function throws on its third batch.
  const failsAt3 = () =>
    linearDataset(64)
      .repeat()
      .map((b) => {
        const e = b as { xs: tf.Tensor };
        if (++count === 3) throw new Error('bad record');
        return e as tf.TensorContainer;
      });
  let count = 0;
  await assert.rejects(
    est.train(failsAt3, { steps: 5 }),
    /bad record\n {2}\(raised by inputFn's data, fetching batch 3 for train\(\) in train mode at global step 4\)/,
  );
  count = 0;
  await assert.rejects(
    est.evaluate(failsAt3),
    /bad record\n {2}\(raised by inputFn's data, fetching batch 3 for evaluate\(\) in eval mode at global step 2\)/,
  );
  await assert.rejects(est.evaluate(broken), /raised by inputFn, called by evaluate\(\) in eval mode at global step 2/);
});
