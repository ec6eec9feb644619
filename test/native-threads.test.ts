// The native backend's default thread count: one per physical core the process may use, within
// its cgroup's CPU limit, less a quarter past 4 cores; OMP_NUM_THREADS still decides when set.
// Topologies of other machines are given as facts; this machine's are read for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cgroupQuota, cpuFacts, CpuFacts, defaultThreads, parseCpuList } from '../src/backend/native/threads';

/** A machine of `cores` cores with `smt` hyperthreads each, CPUs numbered as Linux does (siblings last). */
function machine(cores: number, smt = 1, quota?: number, allowed?: number[]): CpuFacts {
  return {
    allowed: allowed ?? Array.from({ length: cores * smt }, (_, i) => i),
    coreOf: (cpu) => `0:${cpu % cores}`,
    quota,
  };
}

test('the default thread count: every core up to 4, three quarters past that, one per core with hyperthreads, within the cgroup limit and the affinity', () => {
  assert.equal(defaultThreads(machine(1)), 1);
  assert.equal(defaultThreads(machine(2)), 2);
  assert.equal(defaultThreads(machine(4)), 4);
  assert.equal(defaultThreads(machine(8)), 6);
  // The 16-core Xeon of PERF-NOTES: 12 threads was the best measured there (16 the worst).
  assert.equal(defaultThreads(machine(16)), 12);
  assert.equal(defaultThreads(machine(8, 2)), 6, '8 cores with 2 hyperthreads each');
  assert.equal(defaultThreads(machine(2, 2)), 2);
  assert.equal(defaultThreads(machine(64, 1, 2)), 2, 'docker --cpus=2 on a 64-core host');
  assert.equal(defaultThreads(machine(64, 1, 2.5)), 3);
  assert.equal(defaultThreads(machine(64, 1, 0.5)), 1);
  assert.equal(defaultThreads(machine(64, 2, undefined, [0, 1, 64, 65])), 2, 'taskset to two cores and their siblings');
  assert.equal(defaultThreads({ allowed: [0, 1, 2], coreOf: () => undefined, quota: undefined }), 3, 'no topology: one core per CPU');
  assert.equal(defaultThreads({ allowed: [], coreOf: () => undefined, quota: undefined }), 1);
});

test("CPU lists and cgroup limits are read as Linux writes them (v2's cpu.max, v1's cfs quota)", () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('5'), [5]);
  const files = (f: Record<string, string>) => (p: string) => f[p];
  assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '250000 100000\n' })), 2.5);
  assert.equal(
    cgroupQuota(files({ '/proc/self/cgroup': '0::/user.slice/jupyter\n', '/sys/fs/cgroup/user.slice/jupyter/cpu.max': '100000 100000' })),
    1,
  );
  assert.equal(
    cgroupQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })),
    undefined,
  );
  assert.equal(
    cgroupQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })),
    4,
  );
  const here = cpuFacts(undefined, os.availableParallelism());
  assert.ok(here.allowed.length >= 1 && here.allowed.length <= os.cpus().length, JSON.stringify(here.allowed));
});

const SELECT = path.join(__dirname, '..', 'src', 'backend', 'select.js');

/** The native backend's thread count in a new process, with `prefix` before node (taskset). */
function nativeThreads(prefix: string[], env: Record<string, string | undefined>): number {
  const script = `require(${JSON.stringify(SELECT)}).initBackend('native').then((r) => console.log('\\n' + JSON.stringify(r.threads)))`;
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete clean[k];
  const [cmd, ...args] = [...prefix, process.execPath, '-e', script];
  const r = spawnSync(cmd, args, { env: clean, encoding: 'utf8', timeout: 60_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.equal(r.status, 0, r.stderr);
  return Number(last);
}

test("the native backend starts with this machine's default, one thread under taskset to one CPU, and OMP_NUM_THREADS when set", () => {
  const expected = defaultThreads(cpuFacts(undefined, os.availableParallelism()));
  assert.equal(nativeThreads([], { OMP_NUM_THREADS: undefined, TFJS_ESTIMATOR_BACKEND: undefined }), expected);
  if (fs.existsSync('/usr/bin/taskset')) assert.equal(nativeThreads(['taskset', '-c', '0'], { OMP_NUM_THREADS: undefined }), 1);
  assert.equal(nativeThreads([], { OMP_NUM_THREADS: '3' }), 3);
});
