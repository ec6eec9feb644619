#!/usr/bin/env node
// Builds the oneDNN addon of the `native` backend at `npm install` (also: `npm rebuild` or
// `node scripts/build-native.js`). It never fails the install: without a compiler or
// libdnnl-dev it prints one line saying why, and the library picks another backend and says so.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const addon = path.join(root, 'build', 'Release', 'tfjs_estimator_native.node');
const logFile = path.join(root, 'build', 'native-build.log');

// How to try again: from an installed package, or from a checkout of this repository.
const again = root.split(path.sep).includes('node_modules') ? '`npm rebuild tfjs-estimator`' : '`node scripts/build-native.js`';

function done(message) {
  console.log(`[tfjs-estimator] ${message}`);
  process.exit(0);
}

function onPath(cmd) {
  return (process.env.PATH || '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
}

// npm's bundled node-gyp (npm tells install scripts where it is); there is often none on PATH.
function findNodeGyp() {
  const npmDir = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  for (const from of [npmDir, root]) {
    try {
      candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [from] }));
    } catch {
      /* not there */
    }
  }
  return candidates.find((p) => p && fs.existsSync(p));
}

// The running node's own headers (Debian's, the official tarballs' and nvm's node all keep
// include/node next to bin/), so that node-gyp downloads nothing.
function findNodeDir() {
  const prefixes = [path.join(path.dirname(process.execPath), '..'), '/usr', '/usr/local'];
  return prefixes.map((p) => path.resolve(p)).find((p) => fs.existsSync(path.join(p, 'include', 'node', 'node_api.h')));
}

if (process.env.TFJS_ESTIMATOR_SKIP_NATIVE === '1') done('native addon not built: TFJS_ESTIMATOR_SKIP_NATIVE=1');
if (process.platform !== 'linux')
  done(`native addon not built: only Linux is supported (this is ${process.platform}); another backend will be used`);
const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find((p) => fs.existsSync(p));
if (!header) done(`native addon not built: oneDNN not found. Install it with \`sudo apt-get install libdnnl-dev\`, then run ${again}`);
if (!onPath('g++') && !onPath('c++'))
  done(`native addon not built: no C++ compiler. Install one with \`sudo apt-get install g++ make\`, then run ${again}`);
if (!onPath('make')) done(`native addon not built: no make. Install it with \`sudo apt-get install make\`, then run ${again}`);
if (!onPath('python3'))
  done(`native addon not built: node-gyp needs python3. Install it with \`sudo apt-get install python3\`, then run ${again}`);
const gyp = findNodeGyp();
if (!gyp) done(`native addon not built: node-gyp not found (it ships with npm: install npm, then run ${again})`);
const nodedir = findNodeDir();
if (!nodedir)
  done(
    `native addon not built: no Node headers next to ${process.execPath} (include/node). Install them (Debian: \`sudo apt-get install libnode-dev\`), then run ${again}`,
  );

const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${Math.max(1, os.cpus().length)}`];
const started = Date.now();
// binding.gyp's actions run `node` (scripts/native-op-codes.js writes op-codes.h from
// op-codes.json): the node running this script comes first on PATH.
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH || ''}` };
const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
fs.mkdirSync(path.dirname(logFile), { recursive: true });
fs.writeFileSync(logFile, `${process.execPath} ${args.join(' ')}\n\n${r.stdout || ''}${r.stderr || ''}${r.error ? String(r.error) : ''}`);
if (r.status === 0 && fs.existsSync(addon)) {
  done(`native oneDNN addon built in ${((Date.now() - started) / 1000).toFixed(0)} s: ${path.relative(root, addon)}`);
}
const firstError =
  `${r.stdout || ''}${r.stderr || ''}`.split('\n').find((l) => /error/i.test(l)) || String(r.error || `exit status ${r.status}`);
done(
  `native addon build failed (${firstError.trim().slice(0, 160)}); full log: ${path.relative(root, logFile)}. Another backend will be used`,
);
