import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setQuiet } from '../src/host/log';
import { Estimator } from '../src/estimator/estimator';
import { EstimatorSpec, ModeKeys, ModeKey } from '../src/estimator/spec';
import * as train from '../src/estimator/train-api';
import * as layers from '../src/layers';
import { getVariable, initializers, variableScope } from '../src/framework/variables';
import { GraphKeys, getCollection, UpdateOp } from '../src/framework/graph';
import { readState } from '../src/estimator/checkpoint';
import type { SessionRunHook } from '../src/estimator/hooks/hook';
import { linearDataset, tmpDir } from './helpers/tmp';

setQuiet(true);

function linearModel(lr = 0.1, opt: 'sgd' | 'adam' = 'sgd') {
  return (features: tf.Tensor, labels: tf.Tensor | undefined, mode: ModeKey) => {
    const hidden = layers.dense(features, 4, { activation: 'tanh' });
    const pred = layers.dense(hidden, 1);
    if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: { value: pred } });
    const loss = tf.mean(tf.square(tf.sub(pred, labels!))) as tf.Scalar;
    const optimizer = opt === 'sgd' ? train.sgd(lr) : train.adam(lr);
    return new EstimatorSpec({ mode, loss, trainOp: optimizer.minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
  };
}

function values(est: Estimator): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const n of est.getVariableNames()) {
    const t = est.getVariableValue(n);
    out[n] = Array.from(t.dataSync());
    t.dispose();
  }
  return out;
}

describe('train ops', () => {
  test('two train ops each apply exactly the gradient of their own loss to their own variables', async () => {
    const dir = tmpDir();
    const modelFn = (x: tf.Tensor, _l: tf.Tensor | undefined, mode: ModeKey) => {
      const a = variableScope('generator', () => getVariable('a', [], { initializer: initializers.constant(1) }));
      const b = variableScope('discriminator', () => getVariable('b', [], { initializer: initializers.constant(3) }));
      const lossD = tf.mean(tf.square(tf.sub(tf.mul(tf.mul(a, b), x), 1))) as tf.Scalar; // (a*b*x - 1)^2
      const lossG = tf.mean(tf.square(tf.add(a, tf.mul(b, x)))) as tf.Scalar; // (a + b*x)^2
      const dOp = train.sgd(0.1).minimize(lossD, { varList: [b], globalStep: train.getOrCreateGlobalStep() });
      const gOp = train.sgd(0.01).minimize(lossG, { varList: [a] });
      return new EstimatorSpec({ mode, loss: tf.add(lossD, lossG) as tf.Scalar, trainOp: train.group(dOp, gOp) });
    };
    const est = new Estimator(modelFn, dir);
    await est.train(() => [{ xs: tf.tensor1d([2]), ys: tf.tensor1d([0]) }], { steps: 1 });
    // Hand computation at x=2, a=1, b=3, both gradients from the same forward pass:
    // dLossD/db = 2(abx-1)ax = 20 -> b = 3 - 0.1*20 = 1;  dLossG/da = 2(a+bx) = 14 -> a = 1 - 0.01*14 = 0.86
    const v = values(est);
    assert.ok(Math.abs(v['discriminator/b'][0] - 1) < 1e-6, `b = ${v['discriminator/b'][0]}`);
    assert.ok(Math.abs(v['generator/a'][0] - 0.86) < 1e-6, `a = ${v['generator/a'][0]}`);
    assert.deepEqual(v.global_step, [1]);
  });

  test('a trainOp that does not increment the global step is a clear error', async () => {
    const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const loss = tf.mean(tf.square(tf.sub(layers.dense(x, 1), y!))) as tf.Scalar;
      return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss) });
    };
    await assert.rejects(
      new Estimator(modelFn, tmpDir()).train(() => linearDataset(16), { steps: 2 }),
      /did not increment the global step/,
    );
  });
});

describe('layers', () => {
  test('layer variables get TF1 names, are created once and reused on later calls', async () => {
    const dir = tmpDir();
    let calls = 0;
    const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      calls++;
      const img = tf.reshape(x, [-1, 1, 3, 1]);
      const c1 = layers.conv2d(img, 2, [1, 2]);
      const c2 = layers.conv2d(c1, 2, 1, { padding: 'same' });
      const named = layers.dense(layers.flatten(c2), 3, { name: 'my_dense' });
      const g = variableScope('generator', () => layers.dense(named, 2));
      // The discriminator applied twice shares its variables.
      const d = (t: tf.Tensor) => variableScope('discriminator', () => layers.dense(t, 1), { reuse: 'auto' });
      const out = tf.add(d(g), d(tf.mul(g, 2)));
      const loss = tf.mean(tf.square(tf.sub(out, y!))) as tf.Scalar;
      // Every call lists the variables it uses (created on the first, reused after), also by scope.
      assert.equal(getCollection(GraphKeys.TRAINABLE_VARIABLES).length, 10);
      assert.equal(getCollection(GraphKeys.TRAINABLE_VARIABLES, 'discriminator').length, 2);
      assert.equal(getCollection(GraphKeys.GLOBAL_VARIABLES, 'generator/dense/(kernel|bias)').length, 2);
      return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.01).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
    };
    const est = new Estimator(modelFn, dir);
    await est.train(() => linearDataset(32), { steps: 3 });
    assert.equal(calls, 3);
    assert.deepEqual(
      est.getVariableNames().filter((n) => !n.includes('GradientDescent')),
      [
        'conv2d/bias',
        'conv2d/kernel',
        'conv2d_1/bias',
        'conv2d_1/kernel',
        'discriminator/dense/bias',
        'discriminator/dense/kernel',
        'generator/dense/bias',
        'generator/dense/kernel',
        'global_step',
        'my_dense/bias',
        'my_dense/kernel',
      ],
    );
  });

  test('batch norm moving statistics update once per step, with or without the UPDATE_OPS pattern, and are used in EVAL', async () => {
    for (const pattern of [false, true]) {
      const dir = tmpDir();
      const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
        const h = layers.batchNormalization(x, { training: mode === ModeKeys.TRAIN, momentum: 0.5 });
        const out = layers.dense(h, 1, { kernelInitializer: initializers.ones() });
        if (mode === ModeKeys.PREDICT) return new EstimatorSpec({ mode, predictions: h });
        const loss = tf.mean(tf.square(tf.sub(out, y!))) as tf.Scalar;
        const minimize = () => train.sgd(0).minimize(loss, { globalStep: train.getOrCreateGlobalStep() });
        const trainOp = pattern ? train.controlDependencies(getCollection<UpdateOp>(GraphKeys.UPDATE_OPS), minimize) : minimize();
        return new EstimatorSpec({ mode, loss, trainOp });
      };
      const est = new Estimator(modelFn, dir);
      const input = () => [{ xs: tf.tensor2d([[1], [2], [3], [4]]), ys: tf.tensor2d([[0], [0], [0], [0]]) }];
      await est.train(input, { steps: 1 });
      const v = values(est);
      // mean 2.5, unbiased variance 5/3; momentum 0.5 from (0, 1).
      assert.ok(
        Math.abs(v['batch_normalization/moving_mean'][0] - 1.25) < 1e-5,
        `pattern=${pattern} mean ${v['batch_normalization/moving_mean']}`,
      );
      assert.ok(Math.abs(v['batch_normalization/moving_variance'][0] - (0.5 + (5 / 3) * 0.5)) < 1e-5);
      const preds: number[] = [];
      for await (const p of est.predict(() => [{ xs: tf.tensor2d([[1.25]]) }])) preds.push(p as number);
      // EVAL/PREDICT normalise with the moving statistics: (1.25 - 1.25) / sqrt(...) = 0.
      assert.ok(Math.abs((preds[0] as unknown as number[])[0]) < 1e-5, `prediction ${preds[0]}`);
    }
  });
});

describe('batch norm without scale or offset', () => {
  test('trains on the cpu backend and on the native one, to the same weights', async () => {
    const weights: Record<string, Record<string, number[]>> = {};
    try {
      for (const backend of ['cpu', 'native']) {
        for (const opts of [{ scale: false }, { center: false }, { scale: false, center: false }]) {
          const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
            const h = layers.batchNormalization(layers.dense(x, 3, { name: 'in' }), { training: mode === ModeKeys.TRAIN, ...opts });
            const loss = tf.mean(tf.square(tf.sub(layers.dense(h, 1, { name: 'out' }), y!))) as tf.Scalar;
            return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
          };
          const est = new Estimator(modelFn, tmpDir(), { config: { backend, randomSeed: 7 } });
          await est.train(() => linearDataset(16).repeat(), { steps: 3 });
          weights[`${backend} ${JSON.stringify(opts)}`] = values(est);
          const names = est.getVariableNames();
          assert.equal(names.includes('batch_normalization/gamma'), opts.scale !== false);
          assert.equal(names.includes('batch_normalization/beta'), opts.center !== false);
        }
      }
    } finally {
      const { initBackend } = await import('../src/backend/select');
      await initBackend('native');
    }
    for (const key of Object.keys(weights).filter((k) => k.startsWith('cpu'))) {
      const cpu = weights[key];
      const native = weights[key.replace('cpu', 'native')];
      for (const [name, v] of Object.entries(cpu)) {
        v.forEach((x, i) =>
          assert.ok(Math.abs(x - native[name][i]) < 1e-4 * Math.max(1, Math.abs(x)), `${key} ${name}[${i}]: ${x} vs ${native[name][i]}`),
        );
      }
    }
  });
});

describe('train semantics', () => {
  test('steps is relative, maxSteps absolute and a no-op once reached', async () => {
    const dir = tmpDir();
    const est = new Estimator(linearModel(), dir);
    const input = () => linearDataset(64).repeat();
    await est.train(input, { maxSteps: 5 });
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-5'));
    const mtime = fs.statSync(path.join(dir, 'checkpoint')).mtimeMs;
    await est.train(input, { maxSteps: 5 });
    assert.equal(fs.statSync(path.join(dir, 'checkpoint')).mtimeMs, mtime, 'maxSteps reached: nothing written');
    await est.train(input, { steps: 3 });
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-8'));
    await assert.rejects(est.train(input, { steps: 1, maxSteps: 20 }), /not both/);
    await assert.rejects(est.train(input, { steps: 0 }), /positive integer/);
  });

  test('training stops when the input ends, and saves', async () => {
    const dir = tmpDir();
    const est = new Estimator(linearModel(), dir);
    await est.train(() => linearDataset(40, 8));
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-5'));
  });

  test('resumed training continues exactly: Adam moments and the global step survive a restart', async () => {
    const input = () => linearDataset(64).repeat();
    const config = { randomSeed: 7 };
    const a = new Estimator(linearModel(0.05, 'adam'), tmpDir(), { config });
    await a.train(input, { steps: 20 });
    const bDir = tmpDir();
    await new Estimator(linearModel(0.05, 'adam'), bDir, { config }).train(input, { steps: 12 });
    const b = new Estimator(linearModel(0.05, 'adam'), bDir, { config });
    // Input restarts with the new call, as in tf.estimator; feed the rest of the same stream.
    await b.train(() => linearDataset(64).repeat().skip(12), { steps: 8 });
    const va = values(a);
    const vb = values(b);
    assert.deepEqual(Object.keys(va), Object.keys(vb));
    assert.ok(
      Object.keys(va).some((k) => k.endsWith('/Adam/m')),
      'Adam slots are saved',
    );
    for (const k of Object.keys(va)) {
      va[k].forEach((x, i) => assert.ok(Math.abs(x - vb[k][i]) < 1e-6, `${k}[${i}]: ${x} vs ${vb[k][i]}`));
    }
  });

  test('RunConfig.randomSeed makes two runs produce identical weights', async () => {
    const run = async (seed: number) => {
      const est = new Estimator(linearModel(), tmpDir(), { config: { randomSeed: seed } });
      await est.train(() => linearDataset(32), { steps: 4 });
      return values(est);
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a['dense/kernel'], c['dense/kernel']);
  });

  test('checkpoints every saveCheckpointsSteps, keeping keepCheckpointMax', async () => {
    const dir = tmpDir();
    const est = new Estimator(linearModel(), dir, { config: { saveCheckpointsSteps: 2, keepCheckpointMax: 2 } });
    const saved: number[] = [];
    await est.train(() => linearDataset(64).repeat(), {
      steps: 7,
      savingListeners: [{ afterSave: (step) => void saved.push(step) }],
    });
    assert.deepEqual(saved, [2, 4, 6, 7]);
    const state = readState(dir)!;
    assert.deepEqual(state.allModelCheckpointPaths, ['model.ckpt-6', 'model.ckpt-7']);
    assert.deepEqual(
      fs
        .readdirSync(dir)
        .filter((n) => n.startsWith('model.ckpt'))
        .sort(),
      ['model.ckpt-6', 'model.ckpt-7'],
    );
  });

  test('hooks see begin, afterCreateSession, beforeRun/afterRun with fetched values, end; and can stop training', async () => {
    const events: string[] = [];
    const hook: SessionRunHook = {
      begin: () => void events.push('begin'),
      afterCreateSession: (s) => void events.push(`session@${s.globalStep}`),
      beforeRun: () => ({ fetches: { loss: 'loss', step: 'global_step', pred: 'value' } }),
      afterRun: (ctx, v) => {
        events.push(`run@${v.results.step}`);
        assert.equal(typeof v.results.loss, 'number');
        assert.equal((v.results.pred as number[][]).length, 8);
        if (ctx.globalStep >= 3) ctx.requestStop();
      },
      end: (s) => void events.push(`end@${s.globalStep}`),
    };
    const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const pred = layers.dense(x, 1);
      const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
      return new EstimatorSpec({
        mode,
        loss,
        predictions: { value: pred },
        trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }),
      });
    };
    const est = new Estimator(modelFn, tmpDir());
    await est.train(() => linearDataset(64).repeat(), { steps: 10, hooks: [hook] });
    assert.deepEqual(events, ['begin', 'session@0', 'run@1', 'run@2', 'run@3', 'end@3']);
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-3'));
  });

  test('tf.memory().numTensors is the same after step 100 as after step 1000', async () => {
    const counts: Record<number, number> = {};
    const probe: SessionRunHook = {
      afterRun: (ctx) => {
        if (ctx.globalStep === 100 || ctx.globalStep === 1000) counts[ctx.globalStep] = tf.memory().numTensors;
      },
    };
    const est = new Estimator(linearModel(0.01, 'adam'), tmpDir(), { config: { logStepCountSteps: 0 } });
    const before = tf.memory().numTensors;
    await est.train(() => linearDataset(64).repeat(), { steps: 1000, hooks: [probe] });
    assert.equal(counts[1000], counts[100]);
    assert.equal(tf.memory().numTensors, before, 'nothing left behind after train()');
  });
});

describe('errors', () => {
  const input = () => linearDataset(16);
  const run = (modelFn: (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => unknown) =>
    new Estimator(modelFn as never, tmpDir()).train(input, { steps: 1 });

  test('modelFn without loss in TRAIN', async () => {
    await assert.rejects(
      run((x, _y, mode) => new EstimatorSpec({ mode, predictions: x })),
      /no loss in TRAIN mode; return new EstimatorSpec/,
    );
  });
  test('non-scalar loss', async () => {
    await assert.rejects(
      run((x, _y, mode) => new EstimatorSpec({ mode, loss: x })),
      /loss must be a scalar, got shape \[8,3\]/,
    );
  });
  test('modelFn returning something that is not an EstimatorSpec', async () => {
    await assert.rejects(
      run(() => ({ loss: 1 })),
      /modelFn must return an EstimatorSpec.*got an object with keys \{loss\}/,
    );
  });
  test('EstimatorSpec missing predictions in PREDICT', async () => {
    const est = new Estimator(((_x: tf.Tensor, _y: unknown, mode: ModeKey) => new EstimatorSpec({ mode })) as never, tmpDir());
    await assert.rejects(async () => {
      for await (const _ of est.predict(input)) void _;
    }, /no predictions in PREDICT mode/);
  });
  test('inputFn returning something unusable', async () => {
    const est = new Estimator(linearModel(), tmpDir());
    await assert.rejects(est.train((() => 42) as never, { steps: 1 }), /inputFn returned number 42/);
    await assert.rejects(
      est.train(() => [tf.scalar(1)], { steps: 1 }),
      /inputFn produced an element the Estimator cannot use/,
    );
  });
  test('shapes that do not fit name the layer and the shapes', async () => {
    const est = new Estimator(
      ((x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
        const loss = tf.mean(layers.conv2d(x, 2, 3)) as tf.Scalar;
        return new EstimatorSpec({ mode, loss, trainOp: train.sgd(1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
      }) as never,
      tmpDir(),
    );
    await assert.rejects(est.train(input, { steps: 1 }), /conv2d: input must have rank 4.*got shape \[8,3\].*train mode, global step 0/s);
  });
  test('a checkpoint whose variables do not match the model names the variable and both shapes', async () => {
    const dir = tmpDir();
    await new Estimator(linearModel(), dir).train(input, { steps: 1 });
    const wider = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const pred = layers.dense(layers.dense(x, 5, { activation: 'tanh' }), 1);
      const loss = tf.mean(tf.square(tf.sub(pred, y!))) as tf.Scalar;
      return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
    };
    await assert.rejects(
      new Estimator(wider, dir).train(input, { steps: 1 }),
      /Checkpoint variable dense\/kernel has shape \[3,4\] but the model asks for \[3,5\]/,
    );
  });
  test('the model directory keeps what was saved when a step fails', async () => {
    const dir = tmpDir();
    await new Estimator(linearModel(), dir).train(input, { steps: 2 });
    await assert.rejects(
      run(() => {
        throw new Error('boom');
      }),
    );
    await assert.rejects(
      new Estimator(
        (() => {
          throw new Error('boom');
        }) as never,
        dir,
      ).train(input, { steps: 1 }),
      /boom/,
    );
    assert.ok(new Estimator(linearModel(), dir).latestCheckpoint()!.endsWith('model.ckpt-2'));
  });
});

describe('interrupt', () => {
  test('an interrupt stops training at the next step boundary, saves a checkpoint and the next train resumes there', async () => {
    const { requestInterrupt, isInterruptRequested, KeyboardInterrupt } = await import('../src/host/interrupt');
    const dir = tmpDir();
    const est = new Estimator(linearModel(), dir);
    // As the kernel does on interrupt_request: raise the flag while the loop runs (here at step 7).
    const trigger: SessionRunHook = { afterRun: (ctx) => void (ctx.globalStep === 7 && requestInterrupt()) };
    await assert.rejects(
      est.train(() => linearDataset(64).repeat(), { steps: 100, hooks: [trigger] }),
      (e: Error) => {
        assert.ok(e instanceof KeyboardInterrupt);
        assert.match(e.message, /interrupted at global step 7; checkpoint saved/);
        return true;
      },
    );
    assert.equal(isInterruptRequested(), false, 'the request is consumed');
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-7'));
    await est.train(() => linearDataset(64).repeat(), { steps: 2 });
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-9'));
  });
});

describe('logging and NaN', () => {
  test('loss and global_step/sec are logged every logStepCountSteps', async () => {
    const { setLogSink, setQuiet: q } = await import('../src/host/log');
    const lines: string[] = [];
    setLogSink((l) => void lines.push(l));
    q(false);
    try {
      await new Estimator(linearModel(), tmpDir(), { config: { logStepCountSteps: 5 } }).train(() => linearDataset(64).repeat(), {
        steps: 12,
      });
    } finally {
      q(true);
    }
    assert.deepEqual(
      lines.filter((l) => l.startsWith('loss = ')).map((l) => /step = (\d+)/.exec(l)![1]),
      ['1', '6', '11'],
    );
    assert.equal(lines.filter((l) => /^global_step\/sec: [\d.]+/.test(l)).length, 2);
  });

  test('a NaN loss stops training with a clear error and writes no checkpoint containing NaN', async () => {
    const dir = tmpDir();
    const modelFn = (x: tf.Tensor, y: tf.Tensor | undefined, mode: ModeKey) => {
      const pred = layers.dense(x, 1);
      // The loss turns NaN from step 3 on (log of a negative number).
      const step = train.getOrCreateGlobalStep();
      const bad = tf.tidy(() => tf.greaterEqual(step, 2).dataSync()[0] === 1);
      const loss = tf.add(tf.mean(tf.square(tf.sub(pred, y!))), bad ? tf.log(tf.scalar(-1)) : tf.scalar(0)) as tf.Scalar;
      return new EstimatorSpec({ mode, loss, trainOp: train.sgd(0.1).minimize(loss, { globalStep: step }) });
    };
    const est = new Estimator(modelFn, dir, { config: { saveCheckpointsSteps: 1 } });
    await assert.rejects(
      est.train(() => linearDataset(64).repeat(), { steps: 10 }),
      /NaN loss during training at global step 3.*No checkpoint containing NaN was written/s,
    );
    assert.ok(est.latestCheckpoint()!.endsWith('model.ckpt-2'), `latest: ${est.latestCheckpoint()}`);
    const k = est.getVariableValue('dense/kernel');
    assert.ok(Array.from(k.dataSync()).every(Number.isFinite));
  });
});

test("an iterable inputFn is typed by the Estimator's modelFn: features of another type are a compile error", async () => {
  const est = new Estimator(linearModel(), tmpDir('typed-input'));
  const x = tf.tensor2d([[1], [2]]);
  const y = tf.tensor2d([[2], [4]]);
  // @ts-expect-error modelFn takes features as a tensor, this input yields a dict of tensors
  const dicts: Parameters<typeof est.train>[0] = () => [{ features: { x }, labels: y }];
  const tensors: Parameters<typeof est.train>[0] = () => [{ features: x, labels: y }];
  // Unchecked at compile time, the dict still fails at run time, inside modelFn.
  await assert.rejects(est.train(dicts, { steps: 1 }), /modelFn/);
  await est.train(tensors, { steps: 1 });
  assert.equal(est.getVariableValue('global_step').dataSync()[0], 1);
  tf.dispose([x, y]);
});
