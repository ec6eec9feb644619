// Registers and removes the kernel spec. The spec is kernel-spec/ at the package root: a
// kernel.json template whose ${NODE} and ${CLI} become this Node and this package's cli.js,
// and the logos JupyterLab's launcher and the Notebook show. What the template sets and why:
// interrupt_mode "signal", because SIGINT interrupts both a synchronous busy loop and awaited
// training; MALLOC_ARENA_MAX=2, two malloc arenas instead of one per thread, so the compiler
// thread's freed memory is reused rather than piling up (idle RSS stays flat over many cells).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compiledRoot, packageRoot } from '../package-root';
import { Scope } from './args';
import { findJupyter, Jupyter, jupyterDirs, runModule } from './jupyter';

export const KERNEL_NAME = 'tfjs-estimator';

function scopeFlags(scope: Scope): string[] {
  return scope.kind === 'prefix' ? ['--prefix', scope.dir] : [`--${scope.kind}`];
}

/** The spec to install, in a fresh temporary folder: the template filled in, and the logos. */
export function writeSpecDir(): string {
  const from = path.join(packageRoot(), 'kernel-spec');
  const spec = JSON.parse(fs.readFileSync(path.join(from, 'kernel.json'), 'utf8')) as { argv: string[] };
  const values: Record<string, string> = { '${NODE}': process.execPath, '${CLI}': path.join(compiledRoot, 'src', 'cli.js') };
  spec.argv = spec.argv.map((a) => {
    if (!a.includes('${')) return a;
    if (!(a in values))
      throw new Error(`kernel-spec/kernel.json: unknown placeholder ${a} in argv (known: ${Object.keys(values).join(', ')})`);
    return values[a];
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-estimator-spec-'));
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 1) + '\n');
  for (const f of fs.readdirSync(from)) if (f.startsWith('logo-')) fs.copyFileSync(path.join(from, f), path.join(dir, f));
  return dir;
}

/** jupyter_core's user data folder when there is no Jupyter to ask (it is where one would look). */
function defaultUserDir(env: NodeJS.ProcessEnv): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Jupyter');
  if (process.platform === 'win32') return path.join(env.APPDATA ?? os.homedir(), 'jupyter');
  return path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'jupyter');
}

/** The folder holding kernels/ for a scope: asked of the Jupyter found, or jupyter_core's defaults without one. */
function dataDir(scope: Scope, jupyter: Jupyter | undefined, tried: string[], env: NodeJS.ProcessEnv): string {
  if (scope.kind === 'prefix') return path.join(scope.dir, 'share', 'jupyter');
  if (jupyter) return jupyterDirs(jupyter, env)[scope.kind === 'user' ? 'user' : 'sysPrefix'];
  if (scope.kind === 'user') return defaultUserDir(env);
  throw new Error(
    `--sys-prefix means the environment of a Jupyter, and none was found (${tried.join('; ')}). Install Jupyter, put it on PATH, or use --user or --prefix DIR`,
  );
}

/** Installs the spec as `scope` says; returns what was done, for the user. */
export function installSpec(scope: Scope, env: NodeJS.ProcessEnv = process.env): string {
  const dir = writeSpecDir();
  try {
    const { jupyter, tried } = findJupyter(env);
    if (jupyter) {
      const r = runModule(jupyter, 'jupyter_client.kernelspecapp', ['install', dir, '--name', KERNEL_NAME, ...scopeFlags(scope)], env);
      if (r.status !== 0) throw new Error(`${jupyter.origin} could not install the kernel spec: ${r.out.trim()}`);
      // Its own log lines, without the DeprecationWarning every jupyter_client 7 prints for its own call.
      const said = r.out.split('\n').filter((l) => l.startsWith('[InstallKernelSpec]'));
      return `${(said.length ? said.join('\n') : r.out).trim()}\n(with ${jupyter.origin})`;
    }
    // No Jupyter yet: write the spec where Jupyter will look once it is installed.
    const target = path.join(dataDir(scope, undefined, tried, env), 'kernels', KERNEL_NAME);
    fs.mkdirSync(target, { recursive: true });
    for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(target, f));
    return `Installed kernelspec ${KERNEL_NAME} in ${target} (no Jupyter found: ${tried.join('; ')})`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Where Jupyter finds the spec now, if anywhere (for uninstall's hint). */
function installedElsewhere(jupyter: Jupyter | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!jupyter) return undefined;
  const r = runModule(jupyter, 'jupyter_client.kernelspecapp', ['list', '--json'], env);
  if (r.status !== 0) return undefined;
  try {
    const json = JSON.parse(r.stdout) as { kernelspecs: Record<string, { resource_dir: string }> };
    return json.kernelspecs[KERNEL_NAME]?.resource_dir;
  } catch {
    return undefined;
  }
}

/** Removes the spec from the folder `scope` names, and only from there; returns what was done. */
export function uninstallSpec(scope: Scope, env: NodeJS.ProcessEnv = process.env): string {
  const { jupyter, tried } = findJupyter(env);
  const target = path.join(dataDir(scope, jupyter, tried, env), 'kernels', KERNEL_NAME);
  if (!fs.existsSync(path.join(target, 'kernel.json'))) {
    const other = installedElsewhere(jupyter, env);
    const hint = other
      ? `; Jupyter finds one in ${other}: remove it with the flag it was installed with (--user, --sys-prefix or --prefix DIR)`
      : '';
    throw new Error(`no ${KERNEL_NAME} kernel spec in ${target} (${scopeFlags(scope).join(' ')})${hint}`);
  }
  fs.rmSync(target, { recursive: true, force: true });
  return `Removed kernelspec ${KERNEL_NAME} from ${target}`;
}
