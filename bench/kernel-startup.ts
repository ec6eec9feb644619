// Kernel start to first executed cell, trivial cell round trip and idle RSS, measured with a
// real jupyter_client (bench/kernel_startup.py).
//   node dist/bench/kernel-startup.js [--repeat N] [--installed] [kernel name ...]
// By default the kernel of this checkout is measured (installed into a private Jupyter folder,
// which also prepares its caches); --installed measures the kernel specs Jupyter already knows.
import * as path from 'path';
import { spawnSync } from 'child_process';
import { installKernelForTests } from '../test/helpers/jupyter';

const args = process.argv.slice(2);
const repeatAt = args.indexOf('--repeat');
const repeat = repeatAt >= 0 ? Number(args.splice(repeatAt, 2)[1]) : 1;
const installed = args.includes('--installed');
const kernels = args.filter((a) => !a.startsWith('--'));
const env = installed ? process.env : installKernelForTests();
for (const k of kernels.length ? kernels : ['tfjs-estimator']) {
  for (let i = 0; i < repeat; i++) {
    const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'bench', 'kernel_startup.py'), k], { encoding: 'utf8', env });
    console.log(r.status === 0 ? r.stdout.trim() : `${k}: failed: ${r.stderr.slice(-400)}`);
  }
}
