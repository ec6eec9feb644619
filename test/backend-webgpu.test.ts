// The webgpu backend's place in the automatic choice, each case in a fresh node process (the
// choice is made once per process): no Vulkan driver, a software adapter (chromium's
// SwiftShader, present on every machine the set-up ran on) skipped unless forced, the package
// missing or broken, what the banner and the Estimator's first log line say, and dataSync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tmpDir } from './helpers/tmp';
import { vulkanMissing, summarize, adapterRefusal, CHROMIUM_SWIFTSHADER_ICD } from '../src/backend/webgpu/setup';

const DIST = path.join(__dirname, '..');
const ROOT = path.join(DIST, '..');
const NODE_MODULES = path.join(ROOT, 'node_modules');
const SWIFTSHADER = { VK_DRIVER_FILES: CHROMIUM_SWIFTSHADER_ICD };

interface Outcome {
  name?: string;
  skipped?: { name: string; reason: string }[];
  summary?: string;
  tfBackend?: string;
  error?: string;
  extra?: unknown;
}

/** Runs `body` (async JS with initBackend, tf and `dist` in scope) in a new node process. */
function run(
  body: string,
  env: Record<string, string> = {},
  opts: { dist?: string; nodeArgs?: string[]; cwd?: string } = {},
): Outcome & { stderr: string; stdout: string } {
  const dist = opts.dist ?? DIST;
  const file = path.join(tmpDir('webgpu-run-'), 'main.js');
  fs.writeFileSync(
    file,
    `const dist = ${JSON.stringify(dist)};
const { initBackend } = require(dist + '/src/backend/select.js');
const tf = require(require.resolve('@tensorflow/tfjs', { paths: [dist] }));
(async () => {
  let out;
  try { out = await (async () => { ${body} })(); } catch (e) { out = { error: e.message }; }
  process.stdout.write('\\n' + JSON.stringify(out) + '\\n');
  process.exit(0);
})();`,
  );
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (/^(TFJS_ESTIMATOR_|VK_)/.test(k)) delete clean[k];
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), file], {
    env: { ...clean, NODE_PATH: opts.dist ? '' : NODE_MODULES, TFJS_ESTIMATOR_QUIET: '0', ...env },
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ...(JSON.parse(last) as Outcome), stderr: r.stderr, stdout: r.stdout };
  } catch {
    throw new Error(`child failed (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

const REPORT = `const r = await initBackend(); return { ...r, tfBackend: tf.getBackend() };`;

test('chromium ships the SwiftShader Vulkan driver these tests use (scripts/install-system-deps.sh installs it)', () => {
  assert.ok(fs.existsSync(CHROMIUM_SWIFTSHADER_ICD), `${CHROMIUM_SWIFTSHADER_ICD} is missing: apt-get install chromium libvulkan1`);
});

test('no Vulkan driver: webgpu is skipped before Dawn loads; when forced the error says how to use SwiftShader', () => {
  const empty = tmpDir('icd-empty-');
  assert.match(vulkanMissing([empty], {}, false, 'linux')!, /^no Vulkan driver installed \(no ICD file in /);
  assert.doesNotMatch(
    vulkanMissing([empty], {}, false, 'linux')!,
    /VK_DRIVER_FILES/,
    'the automatic choice does not advertise a software driver',
  );
  assert.match(vulkanMissing([empty], {}, true, 'linux')!, new RegExp(`set VK_DRIVER_FILES=${CHROMIUM_SWIFTSHADER_ICD}`));
  const withIcd = tmpDir('icd-');
  fs.writeFileSync(path.join(withIcd, 'nvidia_icd.json'), '{}');
  assert.equal(vulkanMissing([empty, withIcd], {}, false, 'linux'), undefined);
  assert.equal(
    vulkanMissing([empty], { VK_DRIVER_FILES: '/x.json' }, false, 'linux'),
    undefined,
    "an explicit driver file is the loader's business",
  );
  assert.equal(vulkanMissing([empty], {}, false, 'darwin'), undefined, 'Metal and D3D12 need no ICD file');

  // The same through the real choice on this machine, with no driver variables and an empty XDG_DATA_HOME.
  const env = { XDG_DATA_HOME: tmpDir('xdg-') };
  const systemIcd = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'].some(
    (d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => f.endsWith('.json')),
  );
  const auto = run(REPORT, env);
  const why = auto.skipped!.find((s) => s.name === 'webgpu')!.reason;
  if (!systemIcd) {
    assert.match(why, /^no Vulkan driver installed/);
    assert.doesNotMatch(auto.stderr, /vulkan|dawn|warning/i, 'Dawn was not loaded, so it printed nothing');
    const forced = run(REPORT, { ...env, TFJS_ESTIMATOR_BACKEND: 'webgpu' });
    assert.match(
      forced.error!,
      /Backend 'webgpu' was requested \(TFJS_ESTIMATOR_BACKEND=webgpu\) but cannot be used: no Vulkan driver installed .*set VK_DRIVER_FILES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/,
    );
  } else {
    // A machine with a Vulkan driver: webgpu either runs or names why not (never the ICD reason).
    assert.doesNotMatch(why ?? '', /no Vulkan driver/);
  }
});

test('a hardware adapter is taken; software ones (SwiftShader, lavapipe, fallback) only when asked for', () => {
  const h200 = summarize({
    vendor: 'nvidia',
    architecture: 'hopper',
    device: 'nvidia-h200',
    description: 'NVIDIA H200',
    isFallbackAdapter: false,
  });
  assert.equal(h200.software, false);
  assert.equal(adapterRefusal(h200, false), undefined);
  const swift = summarize({
    vendor: 'google',
    architecture: 'swiftshader',
    device: 'swiftshader-device-subzero-',
    description: 'SwiftShader Device (Subzero)',
  });
  assert.equal(swift.software, true);
  assert.match(
    adapterRefusal(swift, false)!,
    /^only a software adapter \(SwiftShader Device \(Subzero\)\), slower than the CPU backends; TFJS_ESTIMATOR_BACKEND=webgpu forces it$/,
  );
  assert.equal(adapterRefusal(swift, true), undefined);
  assert.equal(summarize({ vendor: 'mesa', description: 'llvmpipe (LLVM 15)' }).software, true);
  assert.equal(summarize({ vendor: 'x', isFallbackAdapter: true }).software, true);
});

test('SwiftShader: skipped in the automatic choice with the reason; forced by TFJS_ESTIMATOR_BACKEND or RunConfig.backend, the report names the adapter', () => {
  const auto = run(REPORT, SWIFTSHADER);
  assert.equal(auto.error, undefined);
  assert.notEqual(auto.name, 'webgpu');
  const why = auto.skipped!.find((s) => s.name === 'webgpu')!.reason;
  assert.match(why, /^only a software adapter \(SwiftShader.*\), slower than the CPU backends; TFJS_ESTIMATOR_BACKEND=webgpu forces it$/);
  assert.ok(auto.summary!.includes(`webgpu: ${why}`), auto.summary);

  const forced = run(REPORT, { ...SWIFTSHADER, TFJS_ESTIMATOR_BACKEND: 'webgpu' });
  assert.equal(forced.name, 'webgpu');
  assert.equal(forced.tfBackend, 'webgpu');
  assert.match(
    forced.summary!,
    /^backend: webgpu \(Dawn, google swiftshader[^,]*, software\); skipped tfjs-node-gpu: TFJS_ESTIMATOR_BACKEND asks for webgpu, tfjs-node: TFJS_ESTIMATOR_BACKEND asks for webgpu$/,
  );
  const config = run(`const r = await initBackend('webgpu'); return { ...r, tfBackend: tf.getBackend() };`, SWIFTSHADER);
  assert.equal(config.tfBackend, 'webgpu');
  assert.match(config.summary!, /^backend: webgpu \(Dawn, google swiftshader.*skipped tfjs-node-gpu: RunConfig.backend asks for webgpu/);
});

test('the webgpu package missing or broken is a reason, not a crash', () => {
  // A copy of the package whose node_modules lacks webgpu (symlinks; --preserve-symlinks keeps
  // the copy's paths, so module resolution really does not find it).
  const root = tmpDir('no-webgpu-');
  fs.writeFileSync(path.join(root, 'package.json'), fs.readFileSync(path.join(ROOT, 'package.json')));
  fs.symlinkSync(DIST, path.join(root, 'dist'));
  fs.mkdirSync(path.join(root, 'node_modules'));
  for (const e of fs.readdirSync(NODE_MODULES))
    if (e !== 'webgpu' && e !== '.bin') fs.symlinkSync(path.join(NODE_MODULES, e), path.join(root, 'node_modules', e));
  const opts = { dist: path.join(root, 'dist'), nodeArgs: ['--preserve-symlinks', '--preserve-symlinks-main'], cwd: root };
  const auto = run(REPORT, SWIFTSHADER, opts);
  assert.equal(auto.error, undefined, auto.stderr);
  assert.equal(auto.skipped!.find((s) => s.name === 'webgpu')!.reason, 'npm package webgpu not installed (npm install webgpu)');
  const forced = run(REPORT, { ...SWIFTSHADER, TFJS_ESTIMATOR_BACKEND: 'webgpu' }, opts);
  assert.match(forced.error!, /Backend 'webgpu' was requested .* cannot be used: npm package webgpu not installed \(npm install webgpu\)/);

  // A webgpu whose binary cannot load (another platform, a missing libstdc++ symbol).
  const broken = tmpDir('broken-webgpu-');
  const dir = path.join(broken, 'node_modules', 'webgpu');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'webgpu', version: '0.6.2', main: 'index.js' }));
  fs.writeFileSync(
    path.join(dir, 'index.js'),
    `throw new Error("dawn.node: /lib/x86_64-linux-gnu/libstdc++.so.6: version 'GLIBCXX_3.4.32' not found");`,
  );
  const r = run(REPORT, { ...SWIFTSHADER, TFJS_ESTIMATOR_MODULE_PATHS: broken });
  assert.equal(
    r.skipped!.find((s) => s.name === 'webgpu')!.reason,
    "webgpu (Dawn) failed to load: dawn.node: /lib/x86_64-linux-gnu/libstdc++.so.6: version 'GLIBCXX_3.4.32' not found",
  );
});

test("on webgpu the kernel banner and the Estimator's first log line name the adapter; dataSync reads float32, int32 and bool", () => {
  const r = run(
    `const { kernelBanner } = require(dist + '/src/kernel/cells/prelude.js');
     const { Estimator } = require(dist + '/src/estimator/estimator.js');
     const { EstimatorSpec } = require(dist + '/src/estimator/spec.js');
     const train = require(dist + '/src/estimator/train-api.js');
     const layers = require(dist + '/src/layers');
     const modelFn = (x, y, mode) => {
       const pred = layers.dense(x, 1);
       const loss = tf.losses.meanSquaredError(y, pred);
       return new EstimatorSpec({ mode, loss, predictions: pred, trainOp: train.sgd(0.1).minimize(loss, { globalStep: train.getOrCreateGlobalStep() }) });
     };
     const est = new Estimator(modelFn, require('fs').mkdtempSync(require('os').tmpdir() + '/wg-est-'), { config: { logStepCountSteps: 1 } });
     const input = () => tf.data.array([{ xs: [1, 2], ys: [3] }, { xs: [0, 1], ys: [1] }]).batch(2).repeat();
     await est.train(input, { steps: 2 });
     const f = tf.add(tf.tensor([1.5, -2]), 1).dataSync();
     const i = tf.add(tf.tensor([3, 4], [2], 'int32'), tf.scalar(1, 'int32')).dataSync();
     const b = tf.greater(tf.tensor([1, 5]), 2).dataSync();
     const a = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).arraySync();
     return { extra: { banner: kernelBanner(), backend: tf.getBackend(), f: [...f], i: [...i], it: i.constructor.name, b: [...b], a } };`,
    { ...SWIFTSHADER, TFJS_ESTIMATOR_BACKEND: 'webgpu' },
  );
  assert.equal(r.error, undefined, r.stderr);
  const x = r.extra as { banner: string; backend: string; f: number[]; i: number[]; it: string; b: number[]; a: number[][] };
  assert.equal(x.backend, 'webgpu');
  assert.match(
    x.banner.split('\n')[1],
    /^backend: webgpu \(Dawn, google swiftshader[^)]*\); skipped tfjs-node-gpu: TFJS_ESTIMATOR_BACKEND asks for webgpu/,
  );
  const first = (r.stdout + r.stderr).split('\n').find((l) => l.startsWith('INFO:tfjs-estimator:'));
  assert.match(first ?? '', /^INFO:tfjs-estimator:backend: webgpu \(Dawn, google swiftshader/);
  assert.match(r.stdout + r.stderr, /INFO:tfjs-estimator:loss = [\d.]+, step = 2/);
  assert.deepEqual(x.f, [2.5, -1]);
  assert.deepEqual(x.i, [4, 5]);
  assert.equal(x.it, 'Int32Array');
  assert.deepEqual(x.b, [0, 1]);
  assert.deepEqual(x.a, [
    [3, 3],
    [3, 3],
  ]);
  assert.doesNotMatch(r.stderr, /OffscreenCanvas|synchronously reading/);
});

test("the project's fused kernels are registered on webgpu, and none of them with TFJS_ESTIMATOR_WEBGPU_STOCK=1", () => {
  const names = ['BN_TRAIN', 'BN_MOVING_AVERAGES', 'CONV2D', 'SPARSE_XENT', 'ADAM_UPDATE', 'RELU_GRAD', 'MEAN_GRAD', 'MAX_POOL'];
  const body = `await initBackend();
    const k = require(dist + '/src/backend/custom-kernels.js');
    return { extra: ${JSON.stringify(names)}.filter((n) => k.hasKernel(k[n])) };`;
  const env = { ...SWIFTSHADER, TFJS_ESTIMATOR_BACKEND: 'webgpu' };
  const ours = run(body, env);
  assert.equal(ours.error, undefined, ours.stderr);
  assert.deepEqual(ours.extra, names);
  const stock = run(body, { ...env, TFJS_ESTIMATOR_WEBGPU_STOCK: '1' });
  assert.equal(stock.error, undefined, stock.stderr);
  assert.deepEqual(stock.extra, []);
});
