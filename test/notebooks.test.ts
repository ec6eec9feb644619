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

function execute(notebook: string, extraEnv: NodeJS.ProcessEnv): { mimes: Record<string, number>; errors: string[]; stdout: string; file: string } {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-nb-'));
  const file = path.join(outDir, path.basename(notebook));
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'test', 'python', 'run_notebook.py'), path.join(root, 'notebooks', notebook), file, path.join(root, 'notebooks')], {
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: 900_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) console.log(out.slice(-4000));
  assert.equal(r.status, 0, `${notebook} failed to execute`);
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  return { ...JSON.parse(line!.slice(7)), file };
}

// 1,200 steps: batch norm's moving variance (momentum 0.99) has forgotten its initial value.
test('01-estimator-basics runs top to bottom on the kernel: images, live progress, training that resumes, evaluation, predictions', () => {
  const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-nb01-model-'));
  const r = execute('01-estimator-basics.ipynb', { TUTORIAL_STEPS: process.env.TUTORIAL_STEPS ?? '1200', TUTORIAL_MODEL_DIR: modelDir });
  assert.deepEqual(r.errors, []);
  assert.ok((r.mimes['image/png'] ?? 0) >= 3, `images shown: ${JSON.stringify(r.mimes)}`);
  assert.ok((r.mimes['text/html'] ?? 0) >= 4, 'progress bars and the prediction gallery');
  assert.ok(fs.existsSync(path.join(modelDir, 'model.ckpt-1200')) || process.env.TUTORIAL_STEPS, 'trained to the last step');
  const nb = JSON.parse(fs.readFileSync(r.file, 'utf8')) as { cells: Array<{ outputs?: Array<{ data?: Record<string, unknown> }> }> };
  const evalText = nb.cells.flatMap((c) => c.outputs ?? []).map((o) => String(o.data?.['text/plain'] ?? '')).find((t) => t.includes('accuracy'));
  const accuracy = Number(/accuracy: ([\d.e+-]+)/.exec(evalText ?? '')?.[1]);
  assert.ok(accuracy > 0.5 && accuracy <= 1, `evaluate() reported accuracy ${accuracy}`);
  console.log(`# notebook 01: accuracy ${accuracy} after ${process.env.TUTORIAL_STEPS ?? 1200} steps; size ${fs.statSync(r.file).size} bytes`);
});
