#!/usr/bin/env node
// Builds the oneDNN addon of the `native` backend at `npm install`. Never fails the install:
// without a compiler or libdnnl-dev the library falls back to another backend and says why.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const log = (m) => console.log(`[tfjs-estimator] ${m}`);

if (process.env.TFJS_ESTIMATOR_SKIP_NATIVE === '1') {
  log('native addon build skipped (TFJS_ESTIMATOR_SKIP_NATIVE=1)');
  process.exit(0);
}
const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find((p) => fs.existsSync(p));
if (!header) {
  log('native addon not built: oneDNN headers not found. Install them with: sudo apt-get install libdnnl-dev ; then: npm rebuild tfjs-estimator');
  process.exit(0);
}

// npm ships node-gyp; use it rather than expecting one on PATH.
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed locally */
  }
  return candidates.find((p) => p && fs.existsSync(p));
}
const gyp = findNodeGyp();
if (!gyp) {
  log('native addon not built: node-gyp not found (it ships with npm).');
  process.exit(0);
}
// The running node's own headers (Debian, official tarballs and nvm all keep include/node
// next to bin/), so node-gyp downloads nothing.
const nodedir = path.join(path.dirname(process.execPath), '..');
const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${Math.max(1, require('os').cpus().length)}`];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status === 0) {
  log('native oneDNN addon built: build/Release/tfjs_estimator_native.node');
} else {
  const tail = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
  log(`native addon build failed (the library will use another backend):\n${tail}`);
}
process.exit(0);
