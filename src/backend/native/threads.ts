// How many OpenMP threads the native backend uses when OMP_NUM_THREADS does not say. One per
// logical CPU (OpenMP's own default) is wrong three ways:
// - hyperthreads of one core share its vector units: oneDNN's kernels gain nothing from the second;
// - a container limited by its cgroup (docker --cpus, a Kubernetes or JupyterHub limit) still sees
//   every CPU of the host, and a team larger than its quota waits at every barrier;
// - on a big machine the step's JavaScript, V8's compiler and GC threads need cores too: on a
//   16-core Xeon, 16 threads trained at 7,296 img/s, 12 at 11,079 and 8 at 10,193
//   (../shared/PERF-NOTES.md, "CPU scaling"), so past 4 cores a quarter is left to them.
import * as fs from 'fs';

export interface CpuFacts {
  /** The CPUs this process may run on (its affinity). */
  allowed: number[];
  /** A CPU's physical core ("package:core"; hyperthreads of a core share it), undefined if unknown. */
  coreOf(cpu: number): string | undefined;
  /** The CPU time the cgroup allows, in CPUs; undefined where it sets no limit. */
  quota: number | undefined;
}

/** The OpenMP team size for these facts (see the file's header). */
export function defaultThreads(f: CpuFacts): number {
  const cores = new Set(f.allowed.map((c) => f.coreOf(c) ?? `cpu${c}`)).size;
  let n = Math.max(1, cores);
  if (f.quota !== undefined) n = Math.min(n, Math.max(1, Math.ceil(f.quota - 0.01)));
  return n > 4 ? Math.max(4, Math.round((n * 3) / 4)) : n;
}

/** "0-3,8,10-11" (as in /proc/self/status and /sys) -> [0, 1, 2, 3, 8, 10, 11]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) out.push(c);
  }
  return out;
}

type Read = (path: string) => string | undefined;

function readFile(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The cgroup's CPU limit in CPUs (cgroup v2's cpu.max, v1's cfs quota), undefined if none. */
export function cgroupQuota(read: Read = readFile): number | undefined {
  const own = /^0::(\/.*)$/m.exec(read('/proc/self/cgroup') ?? '')?.[1] ?? '/';
  const dirs = [...new Set([`/sys/fs/cgroup${own === '/' ? '' : own}`, '/sys/fs/cgroup'])];
  for (const d of dirs) {
    const [max, period] = (read(`${d}/cpu.max`) ?? '').trim().split(/\s+/);
    if (max && max !== 'max' && Number(period) > 0) return Number(max) / Number(period);
  }
  for (const d of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    const quota = Number(read(`${d}/cpu.cfs_quota_us`));
    const period = Number(read(`${d}/cpu.cfs_period_us`));
    if (quota > 0 && period > 0) return quota / period;
  }
  return undefined;
}

/** This machine's facts, from /proc and /sys (Linux); elsewhere every CPU, one core each. */
export function cpuFacts(read: Read = readFile, cpuCount = 0): CpuFacts {
  const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(read('/proc/self/status') ?? '')?.[1];
  const allowed = list ? parseCpuList(list) : Array.from({ length: cpuCount }, (_, i) => i);
  return {
    allowed,
    coreOf: (cpu) => {
      const base = `/sys/devices/system/cpu/cpu${cpu}/topology`;
      const core = read(`${base}/core_id`)?.trim();
      return core === undefined ? undefined : `${read(`${base}/physical_package_id`)?.trim() ?? 0}:${core}`;
    },
    quota: cgroupQuota(read),
  };
}
