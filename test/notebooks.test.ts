import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from './helpers/jupyter';

let env: NodeJS.ProcessEnv;
before(() => {
  env = installKernelForTests();
});

const root = path.join(__dirname, '..', '..');

function execute(
  notebook: string,
  extraEnv: NodeJS.ProcessEnv,
): { mimes: Record<string, number>; errors: string[]; stdout: string; file: string } {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-nb-'));
  const file = path.join(outDir, path.basename(notebook));
  const r = spawnSync(
    '/usr/bin/python3',
    [path.join(root, 'test', 'python', 'run_notebook.py'), path.join(root, 'notebooks', notebook), file, path.join(root, 'notebooks')],
    {
      env: { ...env, ...extraEnv },
      encoding: 'utf8',
      timeout: 900_000,
    },
  );
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) console.log(out.slice(-4000));
  assert.equal(r.status, 0, `${notebook} failed to execute`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  return { ...JSON.parse(line!.slice(7)), file };
}

// 1,200 steps: batch norm's moving variance (momentum 0.99) has forgotten its initial value.
test('01-estimator-basics runs top to bottom on the kernel: images, live progress, training that resumes, evaluation, predictions', () => {
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-nb01-model-'));
  const r = execute('01-estimator-basics.ipynb', { TUTORIAL_STEPS: process.env.TUTORIAL_STEPS ?? '600', TUTORIAL_MODEL_DIR: modelDir });
  assert.deepEqual(r.errors, []);
  assert.ok((r.mimes['image/png'] ?? 0) >= 3, `images shown: ${JSON.stringify(r.mimes)}`);
  assert.ok((r.mimes['text/html'] ?? 0) >= 4, 'progress bars and the prediction gallery');
  assert.ok((r.mimes['application/vnd.plotly.v1+json'] ?? 0) >= 1, `the training curves: ${JSON.stringify(r.mimes)}`);
  assert.ok(fs.existsSync(path.join(modelDir, 'model.ckpt-600')) || process.env.TUTORIAL_STEPS, 'trained to the last step');
  const nb = JSON.parse(fs.readFileSync(r.file, 'utf8')) as { cells: Array<{ outputs?: Array<{ data?: Record<string, unknown> }> }> };
  const evalText = nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => String(o.data?.['text/plain'] ?? ''))
    .find((t) => t.includes('accuracy'));
  const accuracy = Number(/accuracy: ([\d.e+-]+)/.exec(evalText ?? '')?.[1]);
  assert.ok(accuracy > 0.5 && accuracy <= 1, `evaluate() reported accuracy ${accuracy}`);
  console.log(
    `# notebook 01: accuracy ${accuracy} after ${process.env.TUTORIAL_STEPS ?? 600} steps; size ${fs.statSync(r.file).size} bytes`,
  );
});

const PLOTLY = 'application/vnd.plotly.v1+json';
const short = (steps: string, prefix: string): NodeJS.ProcessEnv => ({
  TUTORIAL_STEPS: steps,
  TUTORIAL_MODEL_DIR: fs.mkdtempSync(path.join(os.tmpdir(), prefix)),
});

test('02-intermediate: augmented inputs, summaries drawn from the event files, hooks and trainAndEvaluate', () => {
  const env02 = short('300', 'tfe-nb02-model-');
  const r = execute('02-intermediate.ipynb', env02);
  assert.deepEqual(r.errors, []);
  assert.ok((r.mimes['image/png'] ?? 0) >= 1, `the augmented batch: ${JSON.stringify(r.mimes)}`);
  assert.ok((r.mimes[PLOTLY] ?? 0) >= 2, `scalars and histograms charts: ${JSON.stringify(r.mimes)}`);
  assert.match(r.stdout, /inputs\/image\/0 at step \d+: \d+ images recorded/);
  const houses = /houses: mean absolute error ([\d.]+) on the 200 test houses/.exec(r.stdout);
  assert.ok(houses && Number(houses[1]) < 0.2, `the in-memory regression fits its prices: ${houses?.[0]}`);
  assert.ok(
    fs.readdirSync(path.join(env02.TUTORIAL_MODEL_DIR!, 'eval')).some((f) => f.startsWith('events.out.tfevents.')),
    'evaluations written to modelDir/eval',
  );
});

test('03-two-train-ops: a GAN with two optimizers, generated digits after each of three train calls', () => {
  const r = execute('03-two-train-ops.ipynb', short('300', 'tfe-nb03-model-'));
  assert.deepEqual(r.errors, []);
  assert.ok((r.mimes['image/png'] ?? 0) >= 3, `three sample grids: ${JSON.stringify(r.mimes)}`);
  assert.ok((r.mimes[PLOTLY] ?? 0) >= 1, 'both losses over training');
  for (const step of [100, 200, 300]) assert.ok(r.stdout.includes(`generated at step ${step}`), `samples at step ${step}`);
  const nb = JSON.parse(fs.readFileSync(r.file, 'utf8')) as { cells: Array<{ outputs?: Array<{ data?: Record<string, unknown> }> }> };
  const names = String(
    nb.cells
      .flatMap((c) => c.outputs ?? [])
      .map((o) => o.data?.['text/plain'])
      .filter(Boolean)
      .pop(),
  );
  assert.match(names, /generator\/dense\/kernel\/Adam_1\/m/, 'each network has its own optimizer slots');
  assert.match(names, /discriminator\/dense\/kernel\/Adam\/m/);
});

test('the shipped notebooks are what make_notebooks.py writes, with the language_info the kernel reports', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-nb-gen-'));
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'notebooks', 'make_notebooks.py')], {
    env: { ...process.env, NOTEBOOKS_OUT: out },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const names = fs.readdirSync(out).filter((f) => f.endsWith('.ipynb'));
  assert.ok(names.length >= 4);
  for (const name of names) {
    assert.equal(
      fs.readFileSync(path.join(out, name), 'utf8'),
      fs.readFileSync(path.join(root, 'notebooks', name), 'utf8'),
      `${name} is out of date: run python3 notebooks/make_notebooks.py`,
    );
  }
});

test('04-serving: export, an HTTP server on the export answering predictions, bad requests refused', () => {
  const r = execute('04-serving.ipynb', short('200', 'tfe-nb04-model-'));
  assert.deepEqual(r.errors, []);
  assert.match(r.stdout, /HTTP 200: 8 predictions/);
  assert.match(r.stdout, /not JSON: HTTP 400/);
  assert.match(r.stdout, /wrong size: HTTP 400/);
  assert.match(r.stdout, /text\/plain: HTTP 415/);
  assert.match(r.stdout, /1e300: HTTP 400/);
  assert.match(r.stdout, /over 1 MB: HTTP 413/);
  assert.match(r.stdout, /still serving: HTTP 200/);
  assert.match(r.stdout, /server stopped/);
  const nb = JSON.parse(fs.readFileSync(r.file, 'utf8')) as { cells: Array<{ outputs?: Array<{ data?: Record<string, unknown> }> }> };
  const texts = nb.cells.flatMap((c) => c.outputs ?? []).map((o) => String(o.data?.['text/plain'] ?? ''));
  assert.ok(
    texts.some((t) => /^'http:\/\/127\.0\.0\.1:\d+\/predict'$/.test(t.trim())),
    `the server listens on localhost only: ${texts.join(' | ').slice(0, 500)}`,
  );
  assert.ok(
    (r.mimes['image/png'] ?? 0) >= 1 && (r.mimes['text/markdown'] ?? 0) >= 1,
    `the gallery and the server's source: ${JSON.stringify(r.mimes)}`,
  );
  // Jupyter writes the kernel's language_info into a notebook when the kernel starts; a shipped
  // notebook that already has it opens without "unsaved changes".
  const shipped = JSON.parse(fs.readFileSync(path.join(root, 'notebooks', '04-serving.ipynb'), 'utf8')) as { metadata: unknown };
  assert.deepEqual((nb as unknown as { metadata: unknown }).metadata, shipped.metadata);
});
