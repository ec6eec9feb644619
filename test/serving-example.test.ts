// notebooks/serve-mnist.js under attack (issue 18, item 14): the server of notebook 04, run as
// a child process on a small exported model, spoken to over 127.0.0.1 with fetch and raw sockets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'net';
import * as path from 'path';
import { spawn, ChildProcess } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { setQuiet } from '../src/host/log';
import { exportSavedModel } from '../src/estimator/export';
import { tmpDir } from './helpers/tmp';

setQuiet(true);
const ROOT = path.resolve(__dirname, '..', '..');

// The notebook's contract (classes, probabilities over [n, 28, 28]) on a model small enough to
// train in a moment. Scaling by 10 makes 3e38 (a finite float32 pixel) overflow inside it.
const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
  const logits = layers.dense(layers.flatten(tf.mul(x, 10)), 10, { name: 'logits' });
  const predictions = { classes: tf.argMax(logits, -1), probabilities: tf.softmax(logits) };
  if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions });
  const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(y!, 'int32'), 10), logits) as tf.Scalar;
  return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
};

let server: ChildProcess;
let url = '';
let port = 0;

before(async () => {
  const est = new Estimator(modelFn, tmpDir('serve-example-'), { config: { randomSeed: 5 } });
  await est.train(() => tf.data.array([{ xs: tf.randomUniform([4, 28, 28]), ys: tf.tensor1d([0, 1, 2, 3]) }]), { steps: 1 });
  const dir = await exportSavedModel(est, path.join(est.modelDir, 'export'), () => ({ features: tf.zeros([1, 28, 28]) }));
  server = spawn(process.execPath, [path.join(ROOT, 'notebooks', 'serve-mnist.js'), dir, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  url = await new Promise((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      const m = /on (http:\S+)/.exec(d.toString());
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`the server exited with code ${code}`)));
  });
  port = Number(new URL(url).port);
});

after(() => {
  server?.kill('SIGTERM');
});

async function post(body: string, type = 'application/json'): Promise<{ status: number; error?: string; predictions?: unknown[] }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, ...((await r.json()) as object) };
}

const image = (v: number): number[] => new Array(784).fill(v);

test('a good request is answered; JSON sent as text/plain (or with no type) gets 415', async () => {
  const ok = await post(JSON.stringify({ image: image(0.5) }), 'application/json; charset=utf-8');
  assert.equal(ok.status, 200, JSON.stringify(ok));
  assert.equal(ok.predictions?.length, 1);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', '']) {
    const r = await post(JSON.stringify({ image: image(0.5) }), type);
    assert.equal(r.status, 415, `${type}: ${JSON.stringify(r)}`);
    assert.match(r.error ?? '', /application\/json/);
  }
});

test('pixels beyond float32 (1e300) and finite pixels whose output overflows (3e38) get 400, never 200 with nulls', async () => {
  const huge = await post(JSON.stringify({ image: image(1e300) }));
  assert.equal(huge.status, 400, JSON.stringify(huge).slice(0, 300));
  assert.match(huge.error ?? '', /finite/);
  const overflow = await post(JSON.stringify({ images: [image(0.5), image(3e38)] }));
  assert.equal(overflow.status, 400, JSON.stringify(overflow).slice(0, 300));
  assert.match(overflow.error ?? '', /output for image 1 is not finite/);
  assert.equal((await post(JSON.stringify({ image: image(0.25) }))).status, 200, 'still serving');
});

/** Seconds until the server closes a connection that sends `first`, then `trickle` every 500 ms. */
function secondsUntilCut(first: string, trickle: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock: net.Socket = net.connect(port, '127.0.0.1', () => sock.write(first));
    const timer = setInterval(() => sock.writable && trickle && sock.write(trickle), 500);
    const done = (): void => {
      clearInterval(timer);
      resolve((performance.now() - t0) / 1000);
    };
    sock.on('close', done);
    sock.on('error', () => undefined);
    sock.setTimeout(40_000, () => {
      clearInterval(timer);
      sock.destroy();
      reject(new Error('the server never cut the slow connection'));
    });
    sock.resume();
  });
}

test("slow headers are cut after about 5 s and a slow body after about 10 s (not Node's 30 s check)", async () => {
  const [headers, body] = await Promise.all([
    secondsUntilCut('POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n'),
    secondsUntilCut(
      'POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"image": [',
      '0,',
    ),
  ]);
  console.log(`# slow headers cut after ${headers.toFixed(1)} s, slow body after ${body.toFixed(1)} s`);
  assert.ok(headers >= 4.5 && headers < 8, `slow headers cut after ${headers} s`);
  assert.ok(body >= 9.5 && body < 13.5, `slow body cut after ${body} s`);
});
