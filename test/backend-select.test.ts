// The backend choice at start-up, each case in a fresh node process (the choice is made once
// per process): stand-in @tensorflow/tfjs-node(-gpu) packages found by real module resolution
// in a temporary folder (TFJS_ESTIMATOR_MODULE_PATHS), the overrides, and a missing addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from './helpers/tmp';

const SELECT = path.join(__dirname, '..', 'src', 'backend', 'select.js');
const NODE_MODULES = path.join(__dirname, '..', '..', 'node_modules');

interface Outcome {
  name?: string;
  skipped?: { name: string; reason: string }[];
  threads?: number;
  summary?: string;
  tfBackend?: string;
  error?: string;
  extra?: unknown;
}

/** Runs `body` (async JS with `initBackend`, `backendReport`, `tf` in scope) in a new process. */
function run(body: string, env: Record<string, string> = {}): Outcome {
  const dir = tmpDir('select-run-');
  const file = path.join(dir, 'main.js');
  fs.writeFileSync(
    file,
    `const { initBackend, backendReport } = require(${JSON.stringify(SELECT)});
const tf = require('@tensorflow/tfjs');
(async () => {
  let out;
  try { out = await (async () => { ${body} })(); } catch (e) { out = { error: e.message }; }
  process.stdout.write('\\n' + JSON.stringify(out) + '\\n');
})();`,
  );
  const clean = { ...process.env };
  for (const k of ['TFJS_ESTIMATOR_BACKEND', 'TFJS_ESTIMATOR_MODULE_PATHS', 'TFJS_ESTIMATOR_NATIVE_ADDON', 'OMP_NUM_THREADS'])
    delete clean[k];
  const r = spawnSync(process.execPath, [file], { env: { ...clean, NODE_PATH: NODE_MODULES, ...env }, encoding: 'utf8', timeout: 60_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Outcome;
  } catch {
    throw new Error(`child failed (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

const REPORT = `const r = await initBackend(); return { ...r, tfBackend: tf.getBackend() };`;

/** A folder whose node_modules holds stand-in packages: name -> index.js source. */
function standIns(pkgs: Record<string, string>, nested: Record<string, Record<string, string>> = {}): string {
  const root = tmpDir('select-standins-');
  for (const [name, src] of Object.entries(pkgs)) {
    const dir = path.join(root, 'node_modules', ...name.split('/'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
    fs.writeFileSync(path.join(dir, 'index.js'), src);
    for (const [inner, innerSrc] of Object.entries(nested[name] ?? {})) {
      const idir = path.join(dir, 'node_modules', ...inner.split('/'));
      fs.mkdirSync(idir, { recursive: true });
      fs.writeFileSync(path.join(idir, 'package.json'), JSON.stringify({ name: inner, version: '9.9.9', main: 'index.js' }));
      fs.writeFileSync(path.join(idir, 'index.js'), innerSrc);
    }
  }
  return root;
}

// Registers the cpu backend's kernels under 'tensorflow', like the real package registers its own.
const WORKING_TFJS_NODE = `
const tf = require('@tensorflow/tfjs-core');
const { MathBackendCPU } = require('@tensorflow/tfjs-backend-cpu');
for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);
`;

test('without tfjs-node the native backend is chosen and the report says why the others were skipped', () => {
  const r = run(REPORT);
  assert.equal(r.error, undefined);
  assert.equal(r.name, 'native');
  assert.equal(r.tfBackend, 'native');
  // webgpu's reason depends on the machine's GPU and Vulkan drivers (test/backend-webgpu checks it).
  assert.deepEqual(r.skipped!.slice(0, 2), [
    { name: 'tfjs-node-gpu', reason: 'not installed' },
    { name: 'tfjs-node', reason: 'not installed' },
  ]);
  assert.deepEqual(
    r.skipped!.map((s) => s.name),
    ['tfjs-node-gpu', 'tfjs-node', 'webgpu'],
  );
  assert.match(
    r.summary!,
    /^backend: native \(oneDNN \d+\.\d+\.\d+, \d+ threads?\); skipped tfjs-node-gpu: not installed, tfjs-node: not installed, webgpu: .+$/,
  );
});

test('an installed @tensorflow/tfjs-node is used with no code change', () => {
  const dir = standIns({ '@tensorflow/tfjs-node': WORKING_TFJS_NODE });
  const r = run(REPORT, { TFJS_ESTIMATOR_MODULE_PATHS: dir });
  assert.equal(r.name, 'tfjs-node');
  assert.equal(r.tfBackend, 'tensorflow');
  assert.deepEqual(r.skipped, [{ name: 'tfjs-node-gpu', reason: 'not installed' }]);
});

test('tfjs-node-gpu comes first, and one that fails to load falls through to tfjs-node with the error', () => {
  const gpuOk = standIns({ '@tensorflow/tfjs-node-gpu': WORKING_TFJS_NODE, '@tensorflow/tfjs-node': WORKING_TFJS_NODE });
  assert.equal(run(REPORT, { TFJS_ESTIMATOR_MODULE_PATHS: gpuOk }).name, 'tfjs-node-gpu');
  const gpuBroken = standIns({
    '@tensorflow/tfjs-node-gpu': `throw new Error('libcudnn.so.8: cannot open shared object file');`,
    '@tensorflow/tfjs-node': WORKING_TFJS_NODE,
  });
  const r = run(REPORT, { TFJS_ESTIMATOR_MODULE_PATHS: gpuBroken });
  assert.equal(r.name, 'tfjs-node');
  assert.deepEqual(r.skipped, [
    { name: 'tfjs-node-gpu', reason: 'installed but failed to load: libcudnn.so.8: cannot open shared object file' },
  ]);
});

test('a tfjs-node with its own copy of tfjs-core is reported as such and skipped', () => {
  const dir = standIns(
    { '@tensorflow/tfjs-node': `require('@tensorflow/tfjs-core').registerBackend('tensorflow', () => ({}));` },
    { '@tensorflow/tfjs-node': { '@tensorflow/tfjs-core': `exports.registerBackend = () => true;` } },
  );
  const r = run(REPORT, { TFJS_ESTIMATOR_MODULE_PATHS: dir });
  assert.equal(r.name, 'native');
  const why = r.skipped!.find((s) => s.name === 'tfjs-node')!.reason;
  assert.match(why, /its own @tensorflow\/tfjs-core 9\.9\.9 .* not ours 4\.22\.0/);
  assert.match(why, /install @tensorflow\/tfjs-node@4\.22\.0/);
});

test('TFJS_ESTIMATOR_BACKEND overrides the order, and the preferred argument (RunConfig.backend) overrides it', () => {
  const dir = standIns({ '@tensorflow/tfjs-node': WORKING_TFJS_NODE });
  const env = run(REPORT, { TFJS_ESTIMATOR_MODULE_PATHS: dir, TFJS_ESTIMATOR_BACKEND: 'cpu' });
  assert.equal(env.name, 'cpu');
  assert.equal(env.tfBackend, 'cpu');
  assert.deepEqual(
    env.skipped!.map((s) => s.name),
    ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'native', 'wasm'],
  );
  assert.ok(env.skipped!.every((s) => s.reason === 'TFJS_ESTIMATOR_BACKEND asks for cpu'));
  const arg = run(`const r = await initBackend('native'); return { ...r, tfBackend: tf.getBackend() };`, {
    TFJS_ESTIMATOR_MODULE_PATHS: dir,
    TFJS_ESTIMATOR_BACKEND: 'cpu',
  });
  assert.equal(arg.name, 'native');
  assert.equal(arg.tfBackend, 'native');
  assert.deepEqual(arg.skipped, [
    { name: 'tfjs-node-gpu', reason: 'RunConfig.backend asks for native' },
    { name: 'tfjs-node', reason: 'RunConfig.backend asks for native' },
    { name: 'webgpu', reason: 'RunConfig.backend asks for native' },
  ]);
});

test('without the addon the native backend is skipped with the reason and wasm runs', () => {
  const missing = path.join(tmpDir('no-addon-'), 'tfjs_estimator_native.node');
  const r = run(REPORT, { TFJS_ESTIMATOR_NATIVE_ADDON: missing });
  assert.equal(r.name, 'wasm', `fell through to ${r.name}: ${r.summary}`);
  assert.equal(r.tfBackend, r.name);
  const why = r.skipped!.find((s) => s.name === 'native')!.reason;
  assert.match(why, /addon not built .*apt-get install libdnnl-dev/);
  assert.ok(r.summary!.includes(`native: ${why}`));
  const asked = run(`return await initBackend('native');`, { TFJS_ESTIMATOR_NATIVE_ADDON: missing });
  assert.match(asked.error!, /Backend 'native' was requested \(RunConfig.backend=native\) but cannot be used: addon not built/);
  const unknown = run(`return await initBackend('gpu');`);
  assert.match(unknown.error!, /Unknown backend 'gpu': choose one of tfjs-node-gpu, tfjs-node, webgpu, native, wasm, cpu/);
});

test('a second call returns the same report unless another backend is asked for; OMP_NUM_THREADS sets the threads', () => {
  const r = run(
    `const a = await initBackend(); const b = await initBackend(); const c = await initBackend('cpu');
     const after = tf.getBackend(); const d = await initBackend(); const e = await initBackend('native');
     return { extra: [a === b, c.name, after, d === c, backendReport() === e, e.name, e.threads, e.summary] };`,
    { OMP_NUM_THREADS: '1' },
  );
  const [same, cName, after, cached, latest, eName, threads, summary] = r.extra as [
    boolean,
    string,
    string,
    boolean,
    boolean,
    string,
    number,
    string,
  ];
  assert.equal(same, true);
  assert.equal(cName, 'cpu');
  assert.equal(after, 'cpu');
  assert.equal(cached, true);
  assert.equal(latest, true);
  assert.equal(eName, 'native');
  assert.equal(threads, 1);
  assert.match(summary, /^backend: native \(oneDNN [\d.]+, 1 thread\)/);
});
