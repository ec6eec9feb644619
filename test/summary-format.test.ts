// The event files are TensorBoard's format: checked with the independent decoder of
// summary-decoder.ts (its own CRC32C and protobuf parser), never with the writer's code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import * as summary from '../src/estimator/summary';
import { SummaryCollector, activeCollector, setActiveCollector, withCollector } from '../src/estimator/summary/collect';
import { setWriterLinger } from '../src/estimator/summary/writer-cache';
import { crc32c, decodeEventFile, DecodedHisto, maskCrc, readRecords } from './summary-decoder';
import { tmpDir } from './helpers/tmp';
import { setQuiet } from '../src/host/log';

setQuiet(true);
setWriterLinger(0);

/** Records `fn`'s summaries and writes them at `step` into a fresh directory; returns the decoded values. */
function recordAndDecode(fn: () => void, step = 7): ReturnType<typeof decodeEventFile>[number]['values'] {
  const dir = tmpDir('summary-format-');
  const c = new SummaryCollector();
  withCollector(c, fn);
  const w = new summary.EventFileWriter(dir);
  w.addSummary(step, c.values);
  w.close();
  const events = decodeEventFile(w.file);
  assert.equal(events.length, 2);
  assert.equal(events[1].step, step);
  return events[1].values;
}

test('the independent CRC32C matches the standard check value', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('a new event file is events.out.tfevents.<secs>.<host>, starts with file_version brain.Event:2, and every record has valid masked CRCs', () => {
  const dir = tmpDir('summary-format-');
  const before = Math.floor(Date.now() / 1000);
  const w = new summary.EventFileWriter(dir);
  w.addScalars(1, { a: 1 });
  w.close();
  const m = /^events\.out\.tfevents\.(\d{10})\.(.+)$/.exec(path.basename(w.file));
  assert.ok(m, path.basename(w.file));
  assert.ok(Number(m[1]) >= before && Number(m[1]) <= Date.now() / 1000);
  assert.equal(m[2], os.hostname());
  const records = readRecords(w.file); // throws on any checksum mismatch
  assert.equal(records.length, 2);
  const events = decodeEventFile(w.file);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  assert.equal(events[0].step, 0);
  assert.ok(Math.abs(events[0].wallTime - Date.now() / 1000) < 60);
  // The mask itself, on a hand-checked value: crc 0 rotates to 0, plus the constant.
  assert.equal(maskCrc(0), 0xa282ead8);
});

test('a second writer started in the same second gets its own, still TensorBoard-named, file', () => {
  const dir = tmpDir('summary-format-');
  const a = new summary.EventFileWriter(dir);
  const b = new summary.EventFileWriter(dir);
  a.close();
  b.close();
  assert.notEqual(a.file, b.file);
  for (const f of [a.file, b.file]) assert.match(path.basename(f), /^events\.out\.tfevents\./);
  assert.equal(decodeEventFile(b.file)[0].fileVersion, 'brain.Event:2');
});

test('scalars are written as float simple_values at their global steps, in order', () => {
  const dir = tmpDir('summary-format-');
  const w = new summary.EventFileWriter(dir);
  const t0 = Date.now() / 1000;
  for (let step = 1; step <= 300; step += 100) w.addScalars(step, { loss: 1 / step, 'accuracy/top1': step / 1000 });
  w.addScalars(2 ** 40, { big_step: -0.5 });
  w.close();
  const events = decodeEventFile(w.file).slice(1);
  assert.deepEqual(
    events.map((e) => e.step),
    [1, 101, 201, 2 ** 40],
  );
  for (const e of events.slice(0, 3)) {
    assert.deepEqual(
      e.values.map((v) => v.tag),
      ['loss', 'accuracy/top1'],
    );
    assert.equal(e.values[0].simpleValue, Math.fround(1 / e.step));
    assert.equal(e.values[1].simpleValue, Math.fround(e.step / 1000));
    assert.ok(e.wallTime >= t0 - 1 && e.wallTime <= Date.now() / 1000 + 1);
  }
  assert.equal(events[3].values[0].simpleValue, -0.5);
});

test('summary.scalar takes a number or a one-element tensor and rejects anything else', () => {
  const values = recordAndDecode(() => {
    summary.scalar('n', 3.25);
    const t = tf.scalar(-2);
    summary.scalar('t', t);
    summary.scalar('t1', tf.tensor1d([0.5]));
    summary.scalar('nan', NaN);
    t.dispose();
    assert.throws(
      () => summary.scalar('v', tf.tensor1d([1, 2])),
      /summary\.scalar\('v'\): needs one value, got shape \[2\]; reduce it first/,
    );
    assert.throws(() => summary.scalar('', 1), /name must be a non-empty string/);
  });
  assert.deepEqual(
    values.map((v) => [v.tag, v.simpleValue]),
    [
      ['n', 3.25],
      ['t', -2],
      ['t1', 0.5],
      ['nan', NaN],
    ],
  );
});

test('image summaries: one decodable PNG per image, with the right size, channels and pixels', () => {
  // 2 float greyscale images 3x2, values 0..1 (and out of range, clipped).
  const grey = tf.tensor4d([0, 0.2, 0.5, 0.75, 1, 1.5, -1, 0.1, 0.9, 0.3, 0.6, 1], [2, 2, 3, 1]);
  // 1 int32 RGB image 1x2.
  const rgb = tf.tensor4d([255, 0, 10, 0, 128, 300], [1, 1, 2, 3], 'int32');
  // 5 RGBA float images 2x2: maxOutputs 3 by default keeps 3.
  const rgba = tf.fill([5, 2, 2, 4], 0.5);
  const values = recordAndDecode(() => {
    summary.image('grey', grey, { maxOutputs: 4 });
    summary.image('rgb', rgb, { maxOutputs: 1 });
    summary.image('rgba', rgba);
  });
  assert.deepEqual(
    values.map((v) => v.tag),
    ['grey/image/0', 'grey/image/1', 'rgb/image', 'rgba/image/0', 'rgba/image/1', 'rgba/image/2'],
  );
  const expectGrey = (v: number): number => (v <= 0 ? 0 : v >= 1 ? 255 : Math.floor(v * 255.5));
  const greyData = grey.dataSync();
  values.slice(0, 2).forEach((v, i) => {
    const img = v.image!;
    assert.deepEqual([img.height, img.width, img.colorspace], [2, 3, 1]);
    const png = decodePng(img.png);
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [3, 2, 1, 8]);
    assert.deepEqual(Array.from(png.data), Array.from(greyData.slice(i * 6, i * 6 + 6), expectGrey));
  });
  const png = decodePng(values[2].image!.png);
  assert.deepEqual([png.width, png.height, png.channels, values[2].image!.colorspace], [2, 1, 3, 3]);
  assert.deepEqual(Array.from(png.data), [255, 0, 10, 0, 128, 255]);
  for (const v of values.slice(3)) {
    const p = decodePng(v.image!.png);
    assert.deepEqual([p.width, p.height, p.channels, v.image!.colorspace], [2, 2, 4, 4]);
    assert.ok(Array.from(p.data).every((x) => x === 127));
  }
  tf.dispose([grey, rgb, rgba]);
});

test("a NaN or Infinity pixel is drawn in TF's bad colour (opaque red), the rest of the image unharmed", () => {
  const x = tf.tensor4d([NaN, 0, 0, 1, 1, 1, 0, Infinity, 0.5, 0, 0, 0], [1, 2, 2, 3]);
  const values = recordAndDecode(() => summary.image('bad', x, { maxOutputs: 1 }));
  x.dispose();
  assert.deepEqual(Array.from(decodePng(values[0].image!.png).data), [255, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 0]);
});

test('summary.image rejects shapes and dtypes TensorBoard cannot show, naming the fix', () => {
  const c = new SummaryCollector();
  withCollector(c, () => {
    const flat = tf.zeros([2, 28, 28]);
    assert.throws(
      () => summary.image('x', flat),
      /summary\.image\('x'\): images must be NHWC with 1, 3 or 4 channels, got shape \[2,28,28\]; reshape it first/,
    );
    const two = tf.zeros([1, 4, 4, 2]);
    assert.throws(() => summary.image('x', two), /1, 3 or 4 channels/);
    const b = tf.zeros([1, 4, 4, 1], 'bool');
    assert.throws(() => summary.image('x', b), /float32 in \[0, 1\] or int32 in 0\.\.255, got bool/);
    tf.dispose([flat, two, b]);
  });
  assert.equal(c.size, 0);
});

/** TF's default bucket limits, built here from histogram.cc's description. */
function tfLimits(): number[] {
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  return [...pos.map((v) => -v).reverse(), 0, ...pos];
}

function checkHistogram(h: DecodedHisto, values: number[]): void {
  assert.equal(h.packed, true, 'bucket_limit and bucket are packed');
  assert.equal(h.num, values.length);
  assert.equal(h.min, Math.min(...values));
  assert.equal(h.max, Math.max(...values));
  const sum = values.reduce((a, b) => a + b, 0);
  const sumSq = values.reduce((a, b) => a + b * b, 0);
  assert.ok(Math.abs(h.sum - sum) <= 1e-9 * (1 + Math.abs(sum)));
  assert.ok(Math.abs(h.sumSquares - sumSq) <= 1e-9 * (1 + sumSq));
  assert.equal(h.bucket.length, h.bucketLimit.length);
  assert.equal(
    h.bucket.reduce((a, b) => a + b, 0),
    values.length,
    'buckets sum to num',
  );
  // Limits are TF's default edges, strictly increasing, and the last one is DBL_MAX.
  const all = new Set(tfLimits());
  h.bucketLimit.forEach((l, i) => {
    assert.ok(all.has(l), `limit ${l} is one of TF's edges`);
    if (i > 0) assert.ok(l > h.bucketLimit[i - 1]);
  });
  assert.equal(h.bucketLimit[h.bucketLimit.length - 1], Number.MAX_VALUE);
  // Every value lies in its bucket [previous limit, limit), and the counts agree.
  const counts = h.bucket.map(() => 0);
  for (const v of values) {
    const i = h.bucketLimit.findIndex((l) => v < l);
    assert.ok(i >= 0);
    assert.ok(i === 0 || v >= h.bucketLimit[i - 1]);
    counts[i] += 1;
  }
  assert.deepEqual(counts, h.bucket);
  // Empty buckets never come two in a row (TF collapses each run of them into one).
  h.bucket.forEach((b, i) => assert.ok(b > 0 || i === 0 || h.bucket[i - 1] > 0, `two empty buckets in a row at ${i}`));
}

test('histogram summaries: min, max, num, sum, sum_squares and TF-style buckets agree with the values', () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const normal = Array.from({ length: 1000 }, () => rand() * 3);
  const withZeros = [0, 0, 0, 1e-13, -1e-13, 5, 5, 5, 1e21, -2.5];
  const t = tf.tensor2d(normal, [10, 100]);
  const values = recordAndDecode(() => {
    summary.histogram('weights', t);
    summary.histogram('edges', withZeros);
    summary.histogram('ints', tf.tensor1d([1, 2, 2, 3, 3, 3], 'int32'));
  });
  t.dispose();
  assert.deepEqual(
    values.map((v) => v.tag),
    ['weights', 'edges', 'ints'],
  );
  checkHistogram(values[0].histo!, Array.from(tf.tensor1d(normal).dataSync())); // float32-rounded, as stored in the tensor
  checkHistogram(values[1].histo!, withZeros);
  checkHistogram(values[2].histo!, [1, 2, 2, 3, 3, 3]);
  // 0 goes to the bucket above it (TF's upper_bound): [0, 1e-12) holds the zeros and 1e-13,
  // [-1e-12, 0) holds -1e-13.
  const e = values[1].histo!;
  const zeroBucket = e.bucketLimit.indexOf(1e-12);
  assert.equal(e.bucket[zeroBucket], 4);
  assert.deepEqual([e.bucketLimit[zeroBucket - 1], e.bucket[zeroBucket - 1]], [0, 1]);
});

test('a histogram of NaN or Infinity is an error naming the summary, as in TF', () => {
  const c = new SummaryCollector();
  withCollector(c, () => {
    assert.throws(
      () => summary.histogram('layer/kernel', [1, NaN]),
      /NaN in summary histogram for: layer\/kernel \(element 1\)\. The model has probably diverged/,
    );
    assert.throws(() => summary.histogram('x', [Infinity]), /Infinity in summary histogram for: x/);
  });
});

test('outside a collector the summary functions do nothing and read no tensor', () => {
  const t = tf.tensor4d([0, 1, 0, 1], [1, 2, 2, 1]);
  t.dispose(); // reading a disposed tensor throws, so nothing may read it
  assert.equal(activeCollector(), undefined);
  summary.scalar('s', t);
  summary.image('i', t);
  summary.histogram('h', t);
});

test('recording summaries allocates no tensor that outlives the call', () => {
  const x = tf.randomUniform([8, 6, 6, 3]);
  const h = tf.randomNormal([100]);
  const m = tf.mean(h);
  const before = tf.memory().numTensors;
  const c = new SummaryCollector();
  withCollector(c, () => {
    summary.image('x', x, { maxOutputs: 2 });
    summary.histogram('h', h);
    summary.scalar('m', m);
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(c.size, 4);
  tf.dispose([x, h, m]);
});

test('withCollector restores the previous collector, also when fn throws or is async', async () => {
  const outer = new SummaryCollector();
  const inner = new SummaryCollector();
  setActiveCollector(outer);
  assert.throws(
    () =>
      withCollector(inner, () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(activeCollector(), outer);
  await withCollector(inner, async () => {
    await new Promise((r) => setTimeout(r, 5));
    summary.scalar('late', 1);
  });
  assert.equal(activeCollector(), outer);
  setActiveCollector(undefined);
  assert.deepEqual(
    inner.values.map((v) => v.tag),
    ['late'],
  );
});

test('names are cleaned like TF (illegal characters become _), and a tag repeated in one step keeps its last value', () => {
  const values = recordAndDecode(() => {
    summary.scalar('my loss (train)', 1);
    summary.scalar('/lead', 2);
    summary.scalar('x', 1);
    summary.scalar('y', 5);
    summary.scalar('x', 3);
  });
  assert.deepEqual(
    values.map((v) => [v.tag, v.simpleValue]),
    [
      ['my_loss__train_', 1],
      ['lead', 2],
      ['x', 3],
      ['y', 5],
    ],
  );
});

test('events added before the process is killed (SIGKILL) are all in the file, intact', () => {
  const dir = tmpDir('summary-kill-');
  const writerModule = path.join(__dirname, '..', 'src', 'events', 'writer.js');
  const script = `
    const { EventFileWriter } = require(${JSON.stringify(writerModule)});
    const w = new EventFileWriter(${JSON.stringify(dir)});
    for (let s = 1; s <= 50; s++) w.addScalars(s, { loss: 1 / s });
    process.kill(process.pid, 'SIGKILL');`;
  const r = spawnSync(process.execPath, ['-e', script]);
  assert.equal(r.signal, 'SIGKILL');
  const files = fs.readdirSync(dir);
  assert.equal(files.length, 1);
  const events = decodeEventFile(path.join(dir, files[0]));
  assert.deepEqual(
    events.slice(1).map((e) => e.step),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
});
