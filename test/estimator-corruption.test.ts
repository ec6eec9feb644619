import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKey } from '../src/estimator/spec';
import { CheckpointError, latestCheckpoint, loadCheckpoint } from '../src/estimator/checkpoint';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { setQuiet } from '../src/host/log';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

const modelFn = (width: number) => (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const pred = layers.dense(layers.dense(x, width, { activation: 'tanh' }), 1);
  const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
  return new EstimatorSpec({ mode, loss, trainOp: train.adam(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
};
const input = () => linearDataset(64).repeat();

async function trainedDir(): Promise<string> {
  const dir = tmpDir('corrupt-');
  const est = new Estimator(modelFn(4), dir);
  await est.train(input, { steps: 3 });
  await est.train(input, { steps: 3 });
  return dir;
}

test('a bit-flipped checkpoint is a clear error naming the file; fallback restores the previous one', async () => {
  const dir = await trainedDir();
  const bin = path.join(dir, 'model.ckpt-6', 'weights.bin');
  const bytes = fs.readFileSync(bin);
  bytes[10] ^= 0x40;
  fs.writeFileSync(bin, bytes);
  const est = new Estimator(modelFn(4), dir);
  await assert.rejects(
    est.train(input, { steps: 1 }),
    (e: Error) => e instanceof CheckpointError && e.message.includes(bin) && /corrupt/.test(e.message),
  );
  await assert.rejects(
    est.evaluate(() => linearDataset(16)),
    /corrupt/,
  );
  await est.train(input, { steps: 1, fallbackToPreviousCheckpoint: true });
  assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-4'), 'resumed from step 3, saved step 4');
  const m = await est.evaluate(() => linearDataset(16));
  assert.equal(m.globalStep, 4);
});

test('a truncated checkpoint is a clear error naming the file', async () => {
  const dir = await trainedDir();
  const bin = path.join(dir, 'model.ckpt-6', 'weights.bin');
  fs.truncateSync(bin, 20);
  assert.throws(
    () => loadCheckpoint(path.join(dir, 'model.ckpt-6')),
    (e: Error) => e.message.includes(bin) && /20 bytes/.test(e.message),
  );
  const manifest = path.join(dir, 'model.ckpt-6', 'weights.json');
  fs.writeFileSync(manifest, '{"truncat');
  assert.throws(
    () => loadCheckpoint(path.join(dir, 'model.ckpt-6')),
    (e: Error) => e.message.includes(manifest),
  );
});

test('a corrupt checkpoint state file is a clear error; fallback uses the newest intact checkpoint', async () => {
  const dir = await trainedDir();
  fs.writeFileSync(path.join(dir, 'checkpoint'), '{"modelCheckpointPath": "model.ckpt-6", "allMo');
  const est = new Estimator(modelFn(4), dir);
  await assert.rejects(
    est.evaluate(() => linearDataset(16)),
    (e: Error) => e.message.includes(path.join(dir, 'checkpoint')) && /corrupt/.test(e.message),
  );
  const m = await est.evaluate(() => linearDataset(16), { fallbackToPreviousCheckpoint: true });
  assert.equal(m.globalStep, 6);
  // The next save writes a good state file again.
  await est.train(input, { steps: 1, fallbackToPreviousCheckpoint: true });
  assert.ok(latestCheckpoint(dir)!.endsWith('model.ckpt-7'));
});

test('disk full during a save reports the error and leaves the previous checkpoint intact', async (t) => {
  const mnt = tmpDir('diskfull-');
  // A real full disk: a 700 KB tmpfs holds one checkpoint of this model but not two.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=700k', 'tmpfs', mnt]);
  t.after(() => execFileSync('umount', ['-l', mnt]));
  const dir = path.join(mnt, 'model');
  const est = new Estimator(modelFn(8000), dir, { config: { keepCheckpointMax: 3 } }); // ~480 KB a checkpoint
  await est.train(input, { steps: 1 });
  const first = latestCheckpoint(dir)!;
  await assert.rejects(est.train(input, { steps: 1 }), (e: Error) =>
    /Could not save checkpoint .*model\.ckpt-2.*ENOSPC.*previous checkpoint is intact/s.test(e.message),
  );
  assert.equal(latestCheckpoint(dir), first);
  tf.dispose(loadCheckpoint(first).tensors);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.includes('tmp')),
    [],
    'no partial files left',
  );
});
