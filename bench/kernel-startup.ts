// Kernel start to first executed cell, trivial cell round trip and idle RSS, measured with a
// real jupyter_client (bench/kernel_startup.py) against the installed kernel spec.
//   node dist/bench/kernel-startup.js [kernel name ...]
import * as path from 'path';
import { spawnSync } from 'child_process';

const kernels = process.argv.slice(2).length ? process.argv.slice(2) : ['tfjs-estimator'];
for (const k of kernels) {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'kernel_startup.py'), k], { encoding: 'utf8' });
  console.log(r.status === 0 ? r.stdout.trim() : `${k}: failed: ${r.stderr.slice(-400)}`);
}
