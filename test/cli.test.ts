// The CLI's install/uninstall against the real Jupyter (Debian's, and a venv's put first on
// PATH), in temporary folders: the machine's own Jupyter setup is never read or changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { packageRoot } from '../src/package-root';
import { installKernelForTests } from './helpers/jupyter';
import { tmpDir } from './helpers/tmp';

const cli = path.join(__dirname, '..', 'src', 'cli.js');
const NAME = 'tfjs-estimator';

/** A private Jupyter environment under a fresh folder. */
function isolatedEnv(base: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    JUPYTER_DATA_DIR: path.join(base, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(base, 'runtime'),
    JUPYTER_CONFIG_DIR: path.join(base, 'config'),
    IPYTHONDIR: path.join(base, 'ipython'),
    // jupyter_core also searches Python's user base (~/.local/share/jupyter), where the
    // README's set-up installs the kernel: point it into the folder too.
    PYTHONUSERBASE: path.join(base, 'userbase'),
    TFJS_ESTIMATOR_QUIET: '1',
    ...extra,
  };
}

function runCli(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], env: NodeJS.ProcessEnv): string {
  const r = runCli(args, env);
  assert.equal(r.status, 0, `tfjs-estimator ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

interface SpecList {
  kernelspecs: Record<string, { resource_dir: string; spec: { argv: string[]; display_name: string } }>;
}

function kernelspecs(env: NodeJS.ProcessEnv): SpecList['kernelspecs'] {
  const r = spawnSync('/usr/bin/python3', ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as SpecList).kernelspecs;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

test('install --prefix: Jupyter lists the spec with this Node, this cli.js and the three logos, and the Notebook server serves them', async () => {
  const base = tmpDir('tfe-cli-');
  const prefix = path.join(base, 'prefix');
  const env = isolatedEnv(base, { JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') });
  ok(['install', '--prefix', prefix], env);

  const entry = kernelspecs(env)[NAME];
  assert.ok(entry, 'jupyter kernelspec list shows tfjs-estimator');
  assert.equal(entry.resource_dir, path.join(prefix, 'share', 'jupyter', 'kernels', NAME));
  assert.deepEqual(entry.spec.argv, [process.execPath, cli, 'kernel', '--connection-file', '{connection_file}']);
  assert.equal(entry.spec.display_name, 'TypeScript (tfjs-estimator)');
  for (const logo of ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg']) {
    const installed = fs.readFileSync(path.join(entry.resource_dir, logo));
    assert.ok(installed.equals(fs.readFileSync(path.join(packageRoot(), 'kernel-spec', logo))), `${logo} is kernel-spec/'s`);
  }

  // What the Notebook and JupyterLab read: the server's kernelspec API, logos as resources.
  const port = await freePort();
  const token = 'cli-test';
  const args = [
    '-m',
    'notebook',
    '--no-browser',
    `--port=${port}`,
    '--port-retries=0',
    '--ip=127.0.0.1',
    `--NotebookApp.token=${token}`,
    `--notebook-dir=${base}`,
  ];
  // The Notebook refuses to run as root without this (CI containers often are root).
  if (process.getuid?.() === 0) args.push('--allow-root');
  const server = spawn('/usr/bin/python3', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let exited = false;
  server.stderr.on('data', (c: Buffer) => (log += c.toString()));
  server.on('exit', () => (exited = true));
  try {
    let specs: { status: number; body: Buffer } | undefined;
    for (let i = 0; i < 150 && !specs && !exited; i++) {
      specs = await get(`http://127.0.0.1:${port}/api/kernelspecs?token=${token}`).catch(() => undefined);
      if (!specs) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(specs, `the Notebook server did not answer (exited: ${exited}):\n${log}`);
    assert.equal(specs.status, 200);
    const json = JSON.parse(specs.body.toString()) as { kernelspecs: Record<string, { resources: Record<string, string> }> };
    const resources = json.kernelspecs[NAME]?.resources;
    assert.ok(resources, `no ${NAME} in /api/kernelspecs: ${specs.body.toString().slice(0, 500)}`);
    assert.deepEqual(
      Object.keys(resources)
        .filter((k) => k.startsWith('logo-'))
        .sort(),
      ['logo-32x32', 'logo-64x64', 'logo-svg'],
    );
    const png = await get(`http://127.0.0.1:${port}${resources['logo-64x64']}?token=${token}`);
    assert.equal(png.status, 200);
    assert.ok(
      png.body.equals(fs.readFileSync(path.join(packageRoot(), 'kernel-spec', 'logo-64x64.png'))),
      'the server serves the 64 px logo',
    );
  } finally {
    server.kill('SIGTERM');
  }
});

test('uninstall removes the spec only from the place its flag names (--prefix DIR, --user by default) and says where else one is', () => {
  const base = tmpDir('tfe-cli-');
  const prefix = path.join(base, 'prefix');
  const env = isolatedEnv(base, { JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') });
  const inPrefix = path.join(prefix, 'share', 'jupyter', 'kernels', NAME);
  const inUser = path.join(base, 'data', 'kernels', NAME);
  ok(['install', '--prefix', prefix], env);
  ok(['install', '--user'], env);
  assert.ok(fs.existsSync(path.join(inPrefix, 'kernel.json')) && fs.existsSync(path.join(inUser, 'kernel.json')));

  assert.match(ok(['uninstall', '--prefix', prefix], env), new RegExp(`Removed kernelspec ${NAME} from ${inPrefix}`));
  assert.ok(!fs.existsSync(inPrefix), '--prefix removed its copy');
  assert.ok(fs.existsSync(path.join(inUser, 'kernel.json')), "--prefix left the user's copy");
  assert.equal(kernelspecs(env)[NAME]?.resource_dir, inUser);

  const again = runCli(['uninstall', '--prefix', prefix], env);
  assert.equal(again.status, 1);
  assert.match(again.stderr, new RegExp(`no ${NAME} kernel spec in ${inPrefix}.*Jupyter finds one in ${inUser}`));

  ok(['uninstall'], env);
  assert.ok(!fs.existsSync(inUser), 'uninstall without a flag removed the --user copy');
  assert.equal(kernelspecs(env)[NAME], undefined);
});

test('the jupyter on PATH comes first: install --sys-prefix with a venv Jupyter goes into the venv, and uninstall --sys-prefix takes it out', () => {
  const base = tmpDir('tfe-cli-');
  const venv = path.join(base, 'venv');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', '--system-site-packages', venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  // The console script pip writes for jupyter_core's `jupyter`.
  const jupyter = path.join(venv, 'bin', 'jupyter');
  fs.writeFileSync(
    jupyter,
    `#!${path.join(venv, 'bin', 'python3')}\nimport sys\nfrom jupyter_core.command import main\nsys.exit(main())\n`,
    { mode: 0o755 },
  );
  const env = isolatedEnv(base, { PATH: `${path.join(venv, 'bin')}${path.delimiter}${process.env.PATH}` });
  // Were the venv passed over, /usr/bin/python3's prefix would get the spec: take that back.
  const system = `/usr/share/jupyter/kernels/${NAME}`;
  const systemBefore = fs.existsSync(system);
  try {
    const out = ok(['install', '--sys-prefix'], env);
    assert.match(out, new RegExp(`with jupyter on PATH \\(${jupyter}`));
    const target = path.join(venv, 'share', 'jupyter', 'kernels', NAME);
    assert.ok(fs.existsSync(path.join(target, 'logo-64x64.png')), `spec installed in the venv: ${out}`);
    assert.equal(fs.existsSync(system), systemBefore, 'nothing written to /usr/share/jupyter');
    ok(['uninstall', '--sys-prefix'], env);
    assert.ok(!fs.existsSync(target), 'uninstall --sys-prefix removed the venv copy');
  } finally {
    if (!systemBefore) fs.rmSync(system, { recursive: true, force: true });
  }
});

test('install, uninstall and run refuse flags their usage does not document, with the usage', () => {
  const env = isolatedEnv(tmpDir('tfe-cli-'));
  const cases: Array<[string[], RegExp]> = [
    [['uninstall', '--bogus'], /unknown argument '--bogus'/],
    [['install', '--prefix'], /--prefix needs a folder/],
    [['uninstall', '--user', '--prefix', '/tmp/x'], /give one of --user, --sys-prefix, --prefix DIR/],
    [['run', 'a.ipynb', '--out'], /--out needs a value/],
    [['run', 'a.ipynb', '--timeout', 'soon'], /--timeout takes seconds above 0, not 'soon'/],
    [['run', 'a.ipynb', 'b.ipynb'], /one notebook at a time/],
    [['run', '--verbose', 'a.ipynb'], /unknown argument '--verbose'/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args, env);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: tfjs-estimator <command>/);
  }
});

test('run --out DIR --timeout SECS NOTEBOOK (flags first) executes the notebook on the installed kernel and writes it and its HTML to DIR', () => {
  const env = installKernelForTests();
  const base = tmpDir('tfe-cli-');
  const notebook = path.join(base, 'sum.ipynb');
  const cell = { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['const a: number = 20 + 22;\n', 'a'] };
  const kernelspec = { name: NAME, display_name: 'TypeScript (tfjs-estimator)', language: 'typescript' };
  fs.writeFileSync(notebook, JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: { kernelspec }, cells: [cell] }));
  const out = path.join(base, 'out');
  const stdout = ok(['run', '--out', out, '--timeout', '120', notebook], env);
  assert.match(stdout, new RegExp(`Executed notebook: ${path.join(out, 'sum.ipynb')}`));
  const executed = JSON.parse(fs.readFileSync(path.join(out, 'sum.ipynb'), 'utf8')) as {
    cells: Array<{ outputs: Array<{ data?: Record<string, string[]> }> }>;
  };
  assert.deepEqual(executed.cells[0].outputs[0].data?.['text/plain'], ['42']);
  assert.ok(fs.statSync(path.join(out, 'sum.html')).size > 1000, 'the HTML export is written beside it');
  // Trusted in this Jupyter, as the Notebook trusts what it ran and saved: its scripts will run.
  const check = `import sys, nbformat\nfrom nbformat.sign import NotebookNotary\nfrom jupyter_core.paths import jupyter_data_dir\nnb = nbformat.read(sys.argv[1], 4)\nsys.exit(0 if NotebookNotary(data_dir=jupyter_data_dir()).check_signature(nb) else 3)`;
  const trusted = spawnSync('/usr/bin/python3', ['-c', check, path.join(out, 'sum.ipynb')], { env, encoding: 'utf8' });
  assert.equal(trusted.status, 0, `the executed notebook is trusted: ${trusted.stderr}`);
});
