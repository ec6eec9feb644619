// SummarySaverHook, StepCounterHook, EvalSummaryHook and writeEvalSummary, driven by a small
// hand-written loop that calls the hooks the way the Estimator's loops do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { decode as decodePng } from 'fast-png';
import * as summary from '../src/estimator/summary';
import { activeCollector } from '../src/estimator/summary/collect';
import { evalDir, EvalSummaryHook, writeEvalSummary } from '../src/estimator/summary/eval-summary';
import { closeAllWriters, openWriterFile, setWriterLinger } from '../src/estimator/summary/writer-cache';
import type { FetchedValue, RunArgs, RunContext, SessionInfo, SessionRunHook } from '../src/estimator/hooks/hook';
import type { ModeKey } from '../src/framework/mode';
import { decodeEventFile, DecodedEvent, eventFilesIn } from './summary-decoder';
import { tmpDir } from './helpers/tmp';
import { setLogSink, setQuiet } from '../src/host/log';

setQuiet(true);
setWriterLinger(0);

class Ctx implements RunContext {
  private stop = false;
  constructor(
    readonly mode: ModeKey,
    readonly modelDir: string,
    readonly globalStep: number,
  ) {}
  requestStop(): void {
    this.stop = true;
  }
  get stopRequested(): boolean {
    return this.stop;
  }
}

interface LoopOptions {
  modelDir: string;
  steps: number;
  start?: number;
  mode?: ModeKey;
  /** What inputFn + modelFn do in the step that starts at global step g. */
  body?: (g: number) => void | Promise<void>;
  /** The loss of the step that produced global step g. */
  loss?: (g: number) => number;
}

/** begin, afterCreateSession, then per step beforeRun / body / afterRun with the requested fetches, then end. */
async function runLoop(hooks: SessionRunHook[], o: LoopOptions): Promise<void> {
  const mode = o.mode ?? 'train';
  let g = o.start ?? 0;
  const info = (): SessionInfo => ({ mode, modelDir: o.modelDir, globalStep: g });
  for (const h of hooks) await h.begin?.(info());
  for (const h of hooks) await h.afterCreateSession?.(info());
  for (let i = 0; i < o.steps; i++) {
    const before = new Ctx(mode, o.modelDir, g);
    const args: RunArgs[] = [];
    for (const h of hooks) args.push((await h.beforeRun?.(before)) ?? {});
    await o.body?.(g);
    const next = mode === 'train' ? g + 1 : g;
    const after = new Ctx(mode, o.modelDir, next);
    for (let k = 0; k < hooks.length; k++) {
      const results: Record<string, FetchedValue> = {};
      for (const [name, req] of Object.entries(args[k].fetches ?? {})) {
        if (req === 'loss') {
          assert.ok(o.loss, `hook ${k} asked for the loss in ${mode} mode`);
          results[name] = o.loss(next);
        } else if (req === 'global_step') results[name] = next;
        else assert.fail(`unexpected fetch ${String(req)}`);
      }
      await hooks[k].afterRun?.(after, { results });
    }
    g = next;
  }
  for (const h of hooks) await h.end?.(info());
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const withSummaries = (events: DecodedEvent[]): DecodedEvent[] => events.filter((e) => e.values.length > 0);
const value = (e: DecodedEvent, tag: string): number | undefined => e.values.find((v) => v.tag === tag)?.simpleValue;

function onlyFile(dir: string): DecodedEvent[] {
  const files = eventFilesIn(dir);
  assert.equal(files.length, 1, `one event file in ${dir}: ${files.join(', ')}`);
  return decodeEventFile(files[0]);
}

test("SummarySaverHook saves at the first step and every saveSteps after it, with the loss and the step's summaries", async () => {
  const dir = tmpDir('summary-hooks-');
  const active: boolean[] = [];
  const loss = (g: number): number => 10 / g;
  await runLoop([new summary.SummarySaverHook({ saveSteps: 5, outputDir: dir })], {
    modelDir: dir,
    steps: 12,
    loss,
    body: (g) => {
      active.push(activeCollector() !== undefined);
      summary.scalar('pre_step', g);
      summary.histogram('h', [g, 2 * g]);
    },
  });
  assert.deepEqual(active, [true, false, false, false, false, true, false, false, false, false, true, false]);
  const events = onlyFile(dir);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  assert.deepEqual([events[1].sessionLogStatus, events[1].step], [1, 1], 'SessionLog START at the first step');
  const saved = withSummaries(events);
  assert.deepEqual(
    saved.map((e) => e.step),
    [1, 6, 11],
  );
  for (const e of saved) {
    assert.deepEqual(
      e.values.map((v) => v.tag),
      ['pre_step', 'h', 'loss'],
    );
    assert.equal(value(e, 'loss'), Math.fround(loss(e.step)));
    assert.equal(value(e, 'pre_step'), e.step - 1);
    assert.equal(e.values[1].histo!.num, 2);
  }
  assert.equal(activeCollector(), undefined);
  assert.equal(openWriterFile(dir), undefined, 'closed after end (no linger)');
});

test('a resumed run writes START at its first step and saves from there', async () => {
  const dir = tmpDir('summary-hooks-');
  await runLoop([new summary.SummarySaverHook({ saveSteps: 5 })], { modelDir: dir, start: 20, steps: 7, loss: () => 1 });
  const events = onlyFile(dir);
  assert.deepEqual(
    events.filter((e) => e.sessionLogStatus !== undefined).map((e) => [e.step, e.sessionLogStatus]),
    [[21, 1]],
  );
  assert.deepEqual(
    withSummaries(events).map((e) => e.step),
    [21, 26],
    'outputDir defaults to the model directory',
  );
});

test('SummarySaverHook with saveSecs saves at the first step, then whenever saveSecs have passed', async () => {
  const dir = tmpDir('summary-hooks-');
  await runLoop([new summary.SummarySaverHook({ saveSecs: 0.06, outputDir: dir })], {
    modelDir: dir,
    steps: 10,
    loss: () => 1,
    body: () => sleep(25),
  });
  const saved = withSummaries(onlyFile(dir));
  assert.equal(saved[0].step, 1);
  assert.ok(saved.length >= 2 && saved.length <= 6, `saved at ${saved.map((e) => e.step)}`);
  for (let i = 1; i < saved.length; i++) {
    assert.ok(saved[i].step - saved[i - 1].step >= 2);
    assert.ok(saved[i].wallTime - saved[i - 1].wallTime >= 0.055);
  }
});

test('SummarySaverHook and StepCounterHook on one directory share one event file; global_step/sec is measured and logged', async () => {
  const dir = tmpDir('summary-hooks-');
  const lines: string[] = [];
  setLogSink((l) => void lines.push(l));
  setQuiet(false);
  const counter = new summary.StepCounterHook({ everyNSteps: 4, outputDir: dir });
  try {
    await runLoop([new summary.SummarySaverHook({ saveSteps: 100, outputDir: dir }), counter], {
      modelDir: dir,
      steps: 13,
      loss: () => 1,
      body: () => sleep(10),
    });
  } finally {
    setQuiet(true);
  }
  const events = onlyFile(dir);
  const rates = events.filter((e) => value(e, 'global_step/sec') !== undefined);
  // The first trigger (step 1) only starts the clock, like TF.
  assert.deepEqual(
    rates.map((e) => e.step),
    [5, 9, 13],
  );
  for (const e of rates) {
    const r = value(e, 'global_step/sec')!;
    assert.ok(r > 5 && r <= 101, `4 steps of >= 10 ms each: ${r} steps/s`);
  }
  assert.deepEqual(
    counter.rates.map(Math.fround),
    rates.map((e) => value(e, 'global_step/sec')),
  );
  assert.equal(lines.filter((l) => /^global_step\/sec: [\d.]+$/.test(l)).length, 3);
  assert.ok(withSummaries(events).some((e) => e.step === 1 && value(e, 'loss') === 1));
});

test('StepCounterHook without outputDir only logs; with log: false it only writes', async () => {
  const dir = tmpDir('summary-hooks-');
  const lines: string[] = [];
  setLogSink((l) => void lines.push(l));
  setQuiet(false);
  try {
    await runLoop([new summary.StepCounterHook({ everyNSteps: 2 })], { modelDir: dir, steps: 5, body: () => sleep(2) });
    assert.equal(lines.length, 2);
    assert.deepEqual(eventFilesIn(dir), []);
    await runLoop([new summary.StepCounterHook({ everyNSteps: 2, outputDir: dir, log: false })], {
      modelDir: dir,
      steps: 5,
      body: () => sleep(2),
    });
    assert.equal(lines.length, 2);
    assert.equal(onlyFile(dir).filter((e) => value(e, 'global_step/sec') !== undefined).length, 2);
  } finally {
    setQuiet(true);
  }
});

test('two SummarySaverHooks with different schedules both receive the summaries of a step due for both', async () => {
  const a = tmpDir('summary-hooks-a-');
  const b = tmpDir('summary-hooks-b-');
  await runLoop(
    [new summary.SummarySaverHook({ saveSteps: 2, outputDir: a }), new summary.SummarySaverHook({ saveSteps: 3, outputDir: b })],
    {
      modelDir: a,
      steps: 7,
      loss: (g) => g,
      body: (g) => summary.scalar('g', g),
    },
  );
  for (const [dir, steps] of [
    [a, [1, 3, 5, 7]],
    [b, [1, 4, 7]],
  ] as const) {
    const saved = withSummaries(onlyFile(dir));
    assert.deepEqual(
      saved.map((e) => e.step),
      steps,
    );
    for (const e of saved) assert.deepEqual([value(e, 'g'), value(e, 'loss')], [e.step - 1, e.step]);
  }
});

test('a step that fails leaves no collector recording into the next run', async () => {
  const dir = tmpDir('summary-hooks-');
  await assert.rejects(
    runLoop([new summary.SummarySaverHook({ saveSteps: 10, outputDir: dir })], {
      modelDir: dir,
      steps: 3,
      body: () => {
        throw new Error('modelFn failed');
      },
    }),
    /modelFn failed/,
  );
  closeAllWriters();
  const active: boolean[] = [];
  await runLoop([new summary.SummarySaverHook({ saveSteps: 10, outputDir: dir })], {
    modelDir: dir,
    steps: 3,
    loss: () => 0,
    body: () => void active.push(activeCollector() !== undefined),
  });
  assert.deepEqual(active, [true, false, false]);
  assert.equal(activeCollector(), undefined);
});

test('in PREDICT mode SummarySaverHook asks for no loss and writes no START', async () => {
  const dir = tmpDir('summary-hooks-');
  await runLoop([new summary.SummarySaverHook({ saveSteps: 1, outputDir: dir })], {
    modelDir: dir,
    mode: 'infer',
    start: 50,
    steps: 2,
    body: () => summary.scalar('p', 0.5),
  });
  const events = onlyFile(dir);
  assert.equal(events.filter((e) => e.sessionLogStatus !== undefined).length, 0);
  assert.deepEqual(
    withSummaries(events).map((e) => [e.step, e.values.map((v) => v.tag)]),
    [[50, ['p']]],
  );
});

test('hook options are checked with errors that name the fix', () => {
  assert.throws(
    () => new summary.SummarySaverHook({}),
    /SummarySaverHook: give exactly one of saveSteps or saveSecs, e\.g\. \{saveSteps: 100\}/,
  );
  assert.throws(() => new summary.SummarySaverHook({ saveSteps: 1, saveSecs: 1 }), /exactly one of saveSteps or saveSecs/);
  assert.throws(() => new summary.SummarySaverHook({ saveSteps: 0 }), /saveSteps must be a positive number, got 0/);
  assert.throws(
    () => new summary.StepCounterHook({ everyNSteps: 5, everyNSecs: 1 }),
    /StepCounterHook: give exactly one of everyNSteps or everyNSecs/,
  );
  assert.doesNotThrow(() => new summary.StepCounterHook());
  assert.doesNotThrow(() => new summary.StepCounterHook({ everyNSecs: 30 }));
});

test("writeEvalSummary writes the metrics (not the global step) and the first eval batch's summaries into eval_<name> or eval", async () => {
  const modelDir = tmpDir('summary-eval-');
  const hook = new EvalSummaryHook();
  const images = tf.fill([4, 3, 5, 1], 0.5);
  const active: boolean[] = [];
  await runLoop([hook], {
    modelDir,
    mode: 'eval',
    start: 42,
    steps: 3,
    body: (g) => {
      active.push(activeCollector() !== undefined);
      summary.scalar('batch_mean', g);
      summary.scalar('accuracy', 0); // a metric of the same name wins
      summary.image('inputs', images, { maxOutputs: 1 });
    },
  });
  images.dispose();
  assert.deepEqual(active, [true, false, false]);
  const file = writeEvalSummary(modelDir, 'holdout', 42, { accuracy: 0.75, loss: 0.5, globalStep: 42 }, hook.collected);
  assert.equal(path.dirname(file), path.join(modelDir, 'eval_holdout'));
  const saved = withSummaries(onlyFile(path.join(modelDir, 'eval_holdout')));
  assert.equal(saved.length, 1);
  assert.equal(saved[0].step, 42);
  assert.deepEqual(
    saved[0].values.map((v) => v.tag),
    ['accuracy', 'loss', 'batch_mean', 'inputs/image'],
  );
  assert.deepEqual([value(saved[0], 'accuracy'), value(saved[0], 'loss'), value(saved[0], 'batch_mean')], [0.75, 0.5, 42]);
  const png = decodePng(saved[0].values[3].image!.png);
  assert.deepEqual([png.width, png.height], [5, 3]);

  writeEvalSummary(modelDir, undefined, 42, { accuracy: 0.5, globalStep: 42 });
  writeEvalSummary(modelDir, undefined, 84, { accuracy: 0.625, globalStep: 84 });
  assert.equal(evalDir(modelDir), path.join(modelDir, 'eval'));
  const evalScalars = (await summary.readScalars(path.join(modelDir, 'eval'))).get('accuracy')!;
  assert.deepEqual(
    evalScalars.map((p) => [p.step, p.value]),
    [
      [42, 0.5],
      [84, 0.625],
    ],
  );
});

test("a directory's writer is shared and kept open between runs (one file), but a deleted directory gets a new file", async () => {
  const dir = tmpDir('summary-linger-');
  setWriterLinger(60_000);
  try {
    await runLoop([new summary.SummarySaverHook({ saveSteps: 5 })], { modelDir: dir, steps: 3, loss: () => 1 });
    writeEvalSummary(dir, undefined, 3, { accuracy: 1 });
    await runLoop([new summary.SummarySaverHook({ saveSteps: 5 })], { modelDir: dir, start: 3, steps: 3, loss: () => 2 });
    const events = onlyFile(dir);
    assert.deepEqual(
      events.filter((e) => e.sessionLogStatus === 1).map((e) => e.step),
      [1, 4],
    );
    assert.deepEqual(
      withSummaries(events).map((e) => e.step),
      [1, 4],
    );
    fs.rmSync(dir, { recursive: true });
    await runLoop([new summary.SummarySaverHook({ saveSteps: 5 })], { modelDir: dir, start: 6, steps: 1, loss: () => 3 });
    assert.deepEqual(
      withSummaries(onlyFile(dir)).map((e) => e.step),
      [7],
    );
  } finally {
    closeAllWriters();
    setWriterLinger(0);
  }
});
