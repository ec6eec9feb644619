// A private Jupyter for tests: the kernel spec installed under a temporary prefix, found
// through JUPYTER_PATH, with its own data and runtime folders, so tests never depend on (or
// change) the machine's own Jupyter setup.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';

let cached: NodeJS.ProcessEnv | undefined;

export function installKernelForTests(): NodeJS.ProcessEnv {
  if (cached) return cached;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tfe-jupyter-'));
  const prefix = path.join(base, 'prefix');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
    JUPYTER_DATA_DIR: path.join(base, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(base, 'runtime'),
    JUPYTER_CONFIG_DIR: path.join(base, 'config'),
    IPYTHONDIR: path.join(base, 'ipython'),
    // jupyter_core searches Python's user base too (~/.local/share/jupyter): keep it private.
    PYTHONUSERBASE: path.join(base, 'userbase'),
    TFJS_ESTIMATOR_QUIET: '1',
  };
  const cli = path.join(__dirname, '..', '..', 'src', 'cli.js');
  execFileSync(process.execPath, [cli, 'install', '--prefix', prefix], { env, stdio: 'pipe' });
  const list = execFileSync('/usr/bin/python3', ['-m', 'jupyter_client.kernelspecapp', 'list'], { env, encoding: 'utf8' });
  if (!list.includes('tfjs-estimator')) throw new Error(`kernel spec not visible to Jupyter:\n${list}`);
  cached = env;
  return env;
}
