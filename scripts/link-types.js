#!/usr/bin/env node
// tslab type-checks cells against @types/node from the notebook's folder, else from
// tslab/node_modules/@types; npm hoists @types/node next to tslab, so that fallback is empty.
// Point it at ours, so `console`, `process` and friends type-check in any folder.
'use strict';
const fs = require('fs');
const path = require('path');
try {
  const tslab = path.dirname(require.resolve('tslab/package.json'));
  const ours = path.dirname(require.resolve('@types/node/package.json'));
  const target = path.join(tslab, 'node_modules', '@types', 'node');
  if (!fs.existsSync(path.join(target, 'package.json'))) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.rmSync(target, { recursive: true, force: true });
    fs.symlinkSync(path.relative(path.dirname(target), ours), target, 'dir');
    console.log(`[tfjs-estimator] linked ${target} -> ${ours}`);
  }
} catch (e) {
  console.log(`[tfjs-estimator] could not link @types/node for tslab (${e.message}); cells may not find Node's types outside this folder.`);
}
