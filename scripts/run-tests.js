#!/usr/bin/env node
// Runs every compiled test file with node's built-in runner. Node 20 takes no globs,
// so the files are listed here. TEST_FILTER=<substring> runs a subset.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..', 'dist', 'test');
function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}
const filter = process.env.TEST_FILTER;
const files = walk(root)
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test (did `npm run build` run?)');
  process.exit(1);
}
const args = ['--test', '--test-concurrency=1', ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
