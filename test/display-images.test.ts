import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { decode, DecodedPng } from 'fast-png';
import { display } from '../src/display';
import { mnist } from '../src/data/mnist';
import type { MimeBundle } from '../src/host/sink';

function png(b: MimeBundle): DecodedPng {
  assert.equal(typeof b['image/png'], 'string', 'bundle has image/png');
  return decode(Buffer.from(b['image/png'] as string, 'base64'));
}

function pixel(p: DecodedPng, x: number, y: number): number[] {
  const i = (y * p.width + x) * p.channels;
  return Array.from(p.data.subarray(i, i + p.channels));
}

/** A deterministic test pattern: value depends on row, column and channel. */
function pattern(h: number, w: number, c: number, f: (y: number, x: number, k: number) => number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out.push(f(y, x, k));
  return out;
}

describe('display.image', () => {
  test('a float HW tensor in [0,1] becomes a gray PNG with value*255 per pixel', () => {
    const values = pattern(5, 7, 1, (y, x) => (y * 7 + x) / 34);
    const t = tf.tensor2d(values, [5, 7]);
    const before = tf.memory().numTensors;
    const b = display.image(t, { scale: 1 });
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    const p = png(b);
    assert.deepEqual([p.width, p.height, p.channels, p.depth], [7, 5, 1, 8]);
    for (let y = 0; y < 5; y++)
      for (let x = 0; x < 7; x++) assert.deepEqual(pixel(p, x, y), [Math.round(Math.fround(values[y * 7 + x]) * 255)]);
    assert.equal(b['text/plain'], '<image 5x7x1>');
    t.dispose();
  });

  test('a uint8 HWC array with a shape becomes an RGB PNG with the exact bytes', () => {
    const data = Uint8Array.from(pattern(4, 6, 3, (y, x, k) => (y * 40 + x * 7 + k * 80) % 256));
    const p = png(display.image({ data, shape: [4, 6, 3] }, { scale: 1 }));
    assert.deepEqual([p.width, p.height, p.channels], [6, 4, 3]);
    assert.deepEqual(Array.from(p.data), Array.from(data));
  });

  test('an int32 RGBA tensor 0..255 keeps its alpha channel', () => {
    const values = pattern(3, 3, 4, (y, x, k) => (k === 3 ? 100 + y * 10 + x : y * 60 + x * 30 + k));
    const t = tf.tensor3d(values, [3, 3, 4], 'int32');
    const p = png(display.image(t, { scale: 1 }));
    assert.deepEqual([p.width, p.height, p.channels], [3, 3, 4]);
    assert.deepEqual(Array.from(p.data), values);
    t.dispose();
  });

  test('integer nearest-neighbour scaling repeats each pixel as a block', () => {
    const p = png(display.image(new Uint8Array([0, 255, 128, 64]), { shape: [2, 2], scale: 3 }));
    assert.deepEqual([p.width, p.height], [6, 6]);
    assert.deepEqual(pixel(p, 0, 0), [0]);
    assert.deepEqual(pixel(p, 2, 2), [0]);
    assert.deepEqual(pixel(p, 3, 0), [255]);
    assert.deepEqual(pixel(p, 5, 2), [255]);
    assert.deepEqual(pixel(p, 0, 3), [128]);
    assert.deepEqual(pixel(p, 5, 5), [64]);
  });

  test('small images are enlarged by default; a flat 784-value array is read as 28x28', () => {
    const p = png(display.image(new Float32Array(784).fill(0.5)));
    assert.deepEqual([p.width, p.height, p.channels], [84, 84, 1]);
    assert.deepEqual(pixel(p, 40, 40), [128]);
  });

  test('value ranges: tanh outputs in [-1,1], floats in 0..255, and an explicit range', () => {
    assert.deepEqual(Array.from(png(display.image([[-1, 0, 1]], { scale: 1 })).data), [0, 128, 255]);
    assert.deepEqual(Array.from(png(display.image([[0, 100, 255]], { scale: 1 })).data), [0, 100, 255]);
    assert.deepEqual(Array.from(png(display.image([[10, 15, 20]], { scale: 1, range: [10, 20] })).data), [0, 128, 255]);
    // Standardised values (beyond [-1,1] and negative) are min-max scaled.
    assert.deepEqual(Array.from(png(display.image([[-3, 0, 3]], { scale: 1 })).data), [0, 128, 255]);
  });

  test('a batch of one (1HWC) is drawn as one image; a title adds an HTML figure', () => {
    const t = tf.ones([1, 4, 5, 3]);
    const b = display.image(t, { scale: 1, title: 'ones <b>' });
    const p = png(b);
    assert.deepEqual([p.width, p.height, p.channels], [5, 4, 3]);
    assert.match(b['text/html'] as string, /<figcaption[^>]*>ones &lt;b&gt;<\/figcaption>/);
    t.dispose();
  });

  test('errors name the shape and the fix', () => {
    assert.throws(() => display.image(tf.zeros([3, 8, 8])), /channels-first; transpose it to \[H, W, C\]/);
    assert.throws(() => display.image(new Float32Array(10)), /cannot tell the shape of a flat image of 10 values; pass \{shape/);
    assert.throws(() => display.image(tf.zeros([2, 4, 4, 1])), /for a batch use display\.images/);
    assert.throws(() => display.image({ data: new Uint8Array(5), shape: [2, 2] }), /shape \[2,2\] holds 4 values but data has 5/);
    const t = tf.zeros([2, 2]);
    t.dispose();
    assert.throws(() => display.image(t), /disposed; display it before calling dispose/);
  });
});

describe('display.images', () => {
  test('an NHWC batch becomes a grid: cols per row, 2px padding around each scaled cell', () => {
    const n = 5;
    const values = pattern(n * 3, 4, 1, (y, x) => Math.floor(y / 3) * 50 + x);
    const t = tf.tensor4d(values, [n, 3, 4, 1], 'int32');
    const before = tf.memory().numTensors;
    const b = display.images(t, { cols: 3, scale: 2 });
    assert.equal(tf.memory().numTensors, before);
    const p = png(b);
    // cell 8x6 (scaled) + 2*2 padding; 3 columns x 2 rows.
    assert.deepEqual([p.width, p.height, p.channels], [3 * 12, 2 * 10, 1]);
    for (let i = 0; i < n; i++) {
      const ox = (i % 3) * 12 + 2;
      const oy = Math.floor(i / 3) * 10 + 2;
      for (let x = 0; x < 4; x++) assert.deepEqual(pixel(p, ox + 2 * x + 1, oy + 1), [i * 50 + x], `image ${i} column ${x}`);
    }
    assert.deepEqual(pixel(p, 0, 0), [255], 'padding is white');
    assert.deepEqual(pixel(p, 3 * 12 - 1, 2 * 10 - 1), [255], 'the empty sixth cell is background');
    assert.match(b['text/plain'] as string, /^<images 5 x 3x4x1, grid 3x2>/);
    t.dispose();
  });

  test('real MNIST digits: NHW uint8 pixels come out unchanged, titles go into an HTML grid', () => {
    const raw = mnist.raw('test');
    const n = 16;
    const bytes = raw.images.data.subarray(0, n * 784);
    const labels = Array.from(raw.labels.data.subarray(0, n));
    const b = display.images({ data: bytes, shape: [n, 28, 28] }, { titles: labels.map(String), scale: 1, cols: 8 });
    const p = png(b);
    assert.deepEqual([p.width, p.height, p.channels], [8 * 32, 2 * 32, 1]);
    for (const i of [0, 7, 9, 15]) {
      const ox = (i % 8) * 32 + 2;
      const oy = Math.floor(i / 8) * 32 + 2;
      for (const [x, y] of [
        [14, 14],
        [10, 20],
        [5, 5],
      ])
        assert.deepEqual(pixel(p, ox + x, oy + y), [bytes[i * 784 + y * 28 + x]]);
    }
    const html = b['text/html'] as string;
    const imgs = [...html.matchAll(/src="data:image\/png;base64,([^"]+)"/g)].map((m) => decode(Buffer.from(m[1], 'base64')));
    assert.equal(imgs.length, n);
    assert.deepEqual(Array.from(imgs[3].data), Array.from(bytes.subarray(3 * 784, 4 * 784)));
    assert.deepEqual(
      [...html.matchAll(/<figcaption[^>]*>(\d)<\/figcaption>/g)].map((m) => Number(m[1])),
      labels,
    );
    assert.equal(labels[0], 7, 'the first MNIST test digit is a 7');
  });

  test('a float [N,784] batch with {shape} and a list of tensors both work; grays promote to RGB beside colour', () => {
    const flat = tf.tidy(() => tf.linspace(0, 1, 2 * 784).reshape([2, 784]));
    const p = png(display.images(flat, { shape: [28, 28], scale: 1 }));
    assert.deepEqual([p.width, p.height], [64, 32]);
    const gray = tf.fill([2, 2, 1], 1);
    const red = tf.tensor3d([1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0], [2, 2, 3]);
    const mixed = png(display.images([gray, red], { scale: 1 }));
    assert.equal(mixed.channels, 3);
    assert.deepEqual(pixel(mixed, 2, 2), [255, 255, 255]);
    assert.deepEqual(pixel(mixed, 8, 2), [255, 0, 0]);
    tf.dispose([flat, gray, red]);
  });

  test('limit caps how many images land in the notebook', () => {
    const b = display.images(new Uint8Array(100 * 4), { shape: [2, 2], limit: 10, scale: 1, cols: 10 });
    assert.equal(png(b).width, 10 * 6);
    assert.match(b['text/plain'] as string, /first 10 of 100/);
  });
});
