// Which Jupyter the CLI registers the kernel with and runs notebooks on: the one a user gets by
// typing `jupyter` (a conda env's, an activated venv's, pipx's), then a `python3` on PATH that has
// jupyter_client, and Debian's /usr/bin/python3 last. Everything is then done through that
// Jupyter's own Python (`python -m jupyter_client.kernelspecapp`, `-m nbconvert`), so the spec
// lands where that Jupyter looks and `--sys-prefix` means its environment.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

export interface Jupyter {
  /** The Python interpreter that runs this Jupyter. */
  python: string;
  /** How it was found, for messages: "jupyter on PATH (/opt/conda/bin/jupyter)". */
  origin: string;
}

export interface JupyterDirs {
  /** Where `--user` installs: jupyter_core's data dir (JUPYTER_DATA_DIR, else ~/.local/share/jupyter or its OS equivalent). */
  user: string;
  /** Where `--sys-prefix` installs: the Python's sys.prefix/share/jupyter. */
  sysPrefix: string;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first `name` on PATH, as `which` finds it. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * The Python behind a `jupyter` script: its shebang's interpreter when that is a path (pip and
 * Debian write one), else a python beside the script's real location (conda and venv keep the
 * interpreter in the same bin/).
 */
function pythonOf(jupyterScript: string): string | undefined {
  const candidates: string[] = [];
  try {
    const head = fs.readFileSync(jupyterScript, { encoding: 'utf8', flag: 'r' }).slice(0, 512);
    const shebang = /^#!\s*(\S+)/.exec(head);
    if (shebang && path.isAbsolute(shebang[1]) && !shebang[1].endsWith('/env')) candidates.push(shebang[1]);
  } catch {
    /* a binary launcher: try the folder */
  }
  const bin = path.dirname(fs.realpathSync(jupyterScript));
  candidates.push(path.join(bin, 'python3'), path.join(bin, 'python'));
  return candidates.find(isExecutable);
}

/** Why `python` cannot drive Jupyter, or undefined when it can. */
function lacksJupyter(python: string, env: NodeJS.ProcessEnv): string | undefined {
  const r = spawnSync(python, ['-c', 'import jupyter_client, jupyter_core'], { env, encoding: 'utf8' });
  if (r.error) return r.error.message;
  if (r.status !== 0) return (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).trim();
  return undefined;
}

/** Jupyter as found in `env` (PATH first), or the reasons each place was passed over. */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): { jupyter?: Jupyter; tried: string[] } {
  const tried: string[] = [];
  const candidates: Jupyter[] = [];
  const script = onPath('jupyter', env);
  if (script) {
    const python = pythonOf(script);
    if (python) candidates.push({ python, origin: `jupyter on PATH (${script}, Python ${python})` });
    else tried.push(`jupyter on PATH (${script}): no Python found in its first line or beside it`);
  } else tried.push('jupyter: not on PATH');
  const py = onPath('python3', env);
  if (py) candidates.push({ python: py, origin: `python3 on PATH (${py})` });
  candidates.push({ python: '/usr/bin/python3', origin: '/usr/bin/python3' });
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.python)) continue;
    seen.add(c.python);
    const why = lacksJupyter(c.python, env);
    if (!why) return { jupyter: c, tried };
    tried.push(`${c.origin}: ${why}`);
  }
  return { tried };
}

/** Runs `python -m module args` of this Jupyter; output captured. */
export function runModule(
  j: Jupyter,
  module: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { status: number; stdout: string; out: string } {
  const r = spawnSync(j.python, ['-m', module, ...args], { env, encoding: 'utf8' });
  if (r.error || r.status === null) return { status: 127, stdout: '', out: String(r.error ?? `${j.python} was killed by ${r.signal}`) };
  return { status: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

/** The folders this Jupyter installs kernel specs under for --user and --sys-prefix (each + /kernels). */
export function jupyterDirs(j: Jupyter, env: NodeJS.ProcessEnv = process.env): JupyterDirs {
  const code =
    'import json, os, sys\nfrom jupyter_core.paths import jupyter_data_dir\nprint(json.dumps({"user": jupyter_data_dir(), "sysPrefix": os.path.join(sys.prefix, "share", "jupyter")}))';
  const r = spawnSync(j.python, ['-c', code], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot ask ${j.origin} for its data folders: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as JupyterDirs;
}
