import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { logging } from '../src/index';
import { log, setQuiet } from '../src/host/log';
import { setDisplaySink } from '../src/host/sink';

/** Runs fn with process.stdout/stderr writes captured (restored afterwards). */
function capture(fn: () => void): { out: string; err: string } {
  const res = { out: '', err: '' };
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((c: string) => ((res.out += c), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => ((res.err += c), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return res;
}

describe('logging', () => {
  test('INFO goes to stdout, warnings and errors to stderr', () => {
    logging.setVerbosity(logging.INFO);
    try {
      const r = capture(() => {
        logging.info('hello');
        logging.warn('careful');
        logging.error('broken');
        logging.debug('hidden');
      });
      assert.equal(r.out, 'INFO:tfjs-estimator:hello\n');
      assert.equal(r.err, 'WARNING:tfjs-estimator:careful\nERROR:tfjs-estimator:broken\n');
    } finally {
      setQuiet(true);
    }
  });

  test('setVerbosity filters by level, accepts names and constants, rejects unknown ones', () => {
    try {
      logging.setVerbosity('warning' as 'warn');
      assert.equal(logging.getVerbosity(), 'warn');
      let r = capture(() => {
        logging.info('dropped');
        logging.warn('kept');
      });
      assert.equal(r.out, '');
      assert.match(r.err, /WARNING:tfjs-estimator:kept/);
      logging.setVerbosity(logging.DEBUG);
      assert.equal(logging.getVerbosity(), 'debug');
      r = capture(() => logging.debug('now shown'));
      assert.equal(r.out, 'DEBUG:tfjs-estimator:now shown\n');
      logging.setVerbosity(logging.FATAL);
      r = capture(() => logging.error('quiet'));
      assert.equal(r.out + r.err, '');
      assert.throws(() => logging.setVerbosity('loud' as 'info'), /unknown level 'loud'.*'debug', 'info', 'warn'/);
    } finally {
      setQuiet(true);
    }
  });

  test('per-step lines are dropped under a display sink; a custom sink gets the level', () => {
    const got: string[] = [];
    logging.setVerbosity('info');
    logging.setLogSink((line, level) => got.push(`${level}:${line}`));
    try {
      setDisplaySink({ display: () => undefined, update: () => undefined, clearOutput: () => undefined });
      log('step line');
      setDisplaySink(undefined);
      log('step line 2');
      logging.warn('w');
      assert.deepEqual(got, ['info:step line 2', 'warn:w']);
    } finally {
      setDisplaySink(undefined);
      logging.setLogSink(undefined);
      setQuiet(true);
    }
  });

  test("an Estimator's INFO lines reach stdout and nothing reaches stderr (real process)", () => {
    const lib = path.join(__dirname, '..', 'src', 'index.js');
    const script = `
      const { tf, Estimator, EstimatorSpec, layers, train, logging } = require(${JSON.stringify(lib)});
      const modelFn = (x, y, mode) => {
        const pred = layers.dense(x, 1);
        const loss = tf.losses.meanSquaredError(y, pred);
        return new EstimatorSpec({ mode, loss, predictions: pred,
          trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
      };
      const input = () => tf.data.array([{ xs: tf.ones([4, 2]), ys: tf.ones([4, 1]) }]).repeat();
      (async () => {
        if (process.argv[1] === 'warn') logging.setVerbosity(logging.WARN);
        await new Estimator(modelFn).train(input, { steps: 3 });
      })().catch((e) => { console.error(e); process.exit(1); });`;
    for (const level of ['info', 'warn']) {
      const r = spawnSync(process.execPath, ['-e', script, level], {
        encoding: 'utf8',
        env: { ...process.env, TFJS_ESTIMATOR_QUIET: '', TFJS_ESTIMATOR_BACKEND: 'cpu' },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /INFO:tfjs-estimator/, 'INFO lines must not go to stderr');
      if (level === 'info') assert.match(r.stdout, /INFO:tfjs-estimator:Loss for final step: .*Global step 3\./);
      else assert.doesNotMatch(r.stdout, /INFO:tfjs-estimator/);
    }
  });
});
