#!/usr/bin/env node
// tfjs-estimator install | uninstall | kernel --connection-file F | run NOTEBOOK
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

const KERNEL_NAME = 'tfjs-estimator';
const root = path.join(__dirname, '..', '..');
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function usage(code = 0): never {
  process.stdout.write(
    [
      'usage: tfjs-estimator <command>',
      '  install [--user | --sys-prefix | --prefix DIR]   register the Jupyter kernel "TypeScript (tfjs-estimator)"',
      '  uninstall [--user | --sys-prefix | --prefix DIR] remove it',
      '  kernel --connection-file FILE                    run the kernel (what Jupyter starts)',
      '  run NOTEBOOK [--out DIR] [--timeout SECS]        execute a notebook on the kernel, write it and an HTML export',
      '',
    ].join('\n'),
  );
  process.exit(code);
}

function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function kernelSpecDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-estimator-spec-'));
  const spec = {
    argv: [process.execPath, path.join(__dirname, 'cli.js'), 'kernel', '--connection-file', '{connection_file}'],
    display_name: 'TypeScript (tfjs-estimator)',
    language: 'typescript',
    // SIGINT interrupts both a synchronous busy loop and awaited training.
    interrupt_mode: 'signal',
    // Two malloc arenas, not one per thread: the compiler thread's freed memory is reused
    // instead of piling up in an arena of its own (idle RSS stays flat over many cells).
    env: { MALLOC_ARENA_MAX: '2' },
    metadata: { debugger: false },
  };
  fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 1));
  for (const logo of ['logo-32x32.png', 'logo-64x64.png']) {
    const src = path.join(root, 'kernel-spec', logo);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(dir, logo));
  }
  return dir;
}

function jupyter(args: string[]): { status: number; out: string } {
  const r = spawnSync(PY, ['-m', 'jupyter_client.kernelspecapp', ...args], { encoding: 'utf8' });
  if (r.error || r.status === null) return { status: 127, out: String(r.error ?? 'python3 not found') };
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Builds the kernel's caches (type bundle, lean Node types, compiled TypeScript, prelude) now, so the first start is fast too. */
async function warmKernelCache(): Promise<void> {
  const { CompilerClient } = await import('./kernel/compiler-client');
  const lines: string[] = [];
  const compiler = new CompilerClient((l) => lines.push(l));
  try {
    await compiler.ready;
  } catch (e) {
    process.stdout.write(`Kernel caches not prepared (the kernel will make them at its first start): ${(e as Error).message.split('\n')[0]}\n`);
  } finally {
    compiler.close();
  }
}

async function install(args: string[]): Promise<void> {
  await warmKernelCache();
  const dir = kernelSpecDir();
  const scope = args.includes('--sys-prefix') ? ['--sys-prefix'] : flagValue(args, '--prefix') ? ['--prefix', flagValue(args, '--prefix')!] : args.includes('--user') ? ['--user'] : ['--user'];
  const r = jupyter(['install', dir, '--name', KERNEL_NAME, '--replace', ...scope]);
  if (r.status === 0) {
    process.stdout.write(r.out.trim() + '\n');
    return;
  }
  // No jupyter_client: write the spec where Jupyter looks for a user's kernels.
  const base = scope[0] === '--prefix' ? path.join(scope[1], 'share', 'jupyter') : process.env.JUPYTER_DATA_DIR ?? path.join(os.homedir(), '.local', 'share', 'jupyter');
  const target = path.join(base, 'kernels', KERNEL_NAME);
  fs.mkdirSync(target, { recursive: true });
  for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(target, f));
  process.stdout.write(`Installed kernelspec ${KERNEL_NAME} in ${target} (jupyter_client not found: ${r.out.split('\n')[0]})\n`);
}

function uninstall(args: string[]): void {
  const r = jupyter(['remove', '-f', KERNEL_NAME]);
  process.stdout.write(r.status === 0 ? r.out : `kernelspec ${KERNEL_NAME} not removed: ${r.out}\n`);
  void args;
}

async function kernel(args: string[]): Promise<void> {
  const file = flagValue(args, '--connection-file') ?? args.find((a) => a.endsWith('.json'));
  if (!file) usage(2);
  const { readConnectionFile } = await import('./kernel/connection');
  const connection = readConnectionFile(file);
  // The compiler thread first: TypeScript starts up while the library and zeromq load.
  const { CompilerClient } = await import('./kernel/compiler-client');
  // Bound now: once the kernel runs, process.stderr.write is captured into cells.
  const stderr = process.stderr.write.bind(process.stderr);
  const log = (l: string): void => void stderr(`[tfjs-estimator kernel] ${l}\n`);
  const compiler = new CompilerClient(log);
  const { Kernel } = await import('./kernel/server');
  const k = new Kernel({ connection, cwd: process.cwd(), compiler, log });
  await k.start();
}

function run(args: string[]): void {
  const nb = args.find((a) => !a.startsWith('--'));
  if (!nb) usage(2);
  const out = path.resolve(flagValue(args, '--out') ?? path.join(path.dirname(nb), 'executed'));
  const timeout = flagValue(args, '--timeout') ?? '1800';
  fs.mkdirSync(out, { recursive: true });
  const source = path.resolve(nb);
  const target = path.join(out, path.basename(nb));
  // Cells run in the notebook's own folder, as they do in Jupyter.
  const exec = spawnSync(PY, ['-m', 'nbconvert', '--to', 'notebook', '--execute', `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`, `--ExecutePreprocessor.timeout=${timeout}`, '--output-dir', out, '--output', path.basename(nb), source], { stdio: 'inherit', cwd: path.dirname(source) });
  if (exec.status !== 0) process.exit(exec.status ?? 1);
  const html = spawnSync(PY, ['-m', 'nbconvert', '--to', 'html', target], { stdio: 'inherit' });
  if (html.status !== 0) process.exit(html.status ?? 1);
  process.stdout.write(`Executed notebook: ${target}\nHTML export: ${target.replace(/\.ipynb$/, '.html')}\n`);
}

const [cmd, ...rest] = process.argv.slice(2);
switch (cmd) {
  case 'install':
    install(rest).catch((e: Error) => {
      process.stderr.write(`tfjs-estimator install failed: ${e.message}\n`);
      process.exit(1);
    });
    break;
  case 'uninstall':
    uninstall(rest);
    break;
  case 'kernel':
    kernel(rest).catch((e: Error) => {
      process.stderr.write(`tfjs-estimator kernel failed to start: ${e.message}\n`);
      process.exit(1);
    });
    break;
  case 'run':
    run(rest);
    break;
  case '-h':
  case '--help':
  case undefined:
    usage(cmd === undefined ? 2 : 0);
    break;
  default:
    process.stderr.write(`unknown command '${cmd}'\n`);
    usage(2);
}
