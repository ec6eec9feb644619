#!/usr/bin/env node
// tfjs-estimator install | uninstall | kernel --connection-file F | run NOTEBOOK
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { findJupyter, Jupyter } from './cli/jupyter';
import { parseRunArgs, parseScope, UsageError } from './cli/args';
import { installSpec, KERNEL_NAME, uninstallSpec } from './cli/kernel-spec';

function usage(code = 0): never {
  (code === 0 ? process.stdout : process.stderr).write(
    [
      'usage: tfjs-estimator <command>',
      '  install [--user | --sys-prefix | --prefix DIR]   register the Jupyter kernel "TypeScript (tfjs-estimator)"',
      '  uninstall [--user | --sys-prefix | --prefix DIR] remove it from that place (default --user)',
      '  kernel --connection-file FILE                    run the kernel (what Jupyter starts)',
      '  run NOTEBOOK [--out DIR] [--timeout SECS]        execute a notebook on the kernel, write it and an HTML export',
      'Jupyter is the one `jupyter` on PATH runs (a conda or venv Jupyter), else python3 on PATH, else /usr/bin/python3.',
      '',
    ].join('\n'),
  );
  process.exit(code);
}

function flagValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The Jupyter to use, or exit saying where it was looked for. */
function jupyterOrExit(): Jupyter {
  const { jupyter, tried } = findJupyter();
  if (jupyter) return jupyter;
  process.stderr.write(
    `tfjs-estimator: no Jupyter found (${tried.join('; ')}). Install Jupyter (pip install jupyter, conda install jupyter, or apt-get install jupyter-notebook) and put it on PATH.\n`,
  );
  process.exit(1);
}

/** Builds the kernel's caches (type bundle, lean Node types, compiled TypeScript, prelude) now, so the first start is fast too. */
async function warmKernelCache(): Promise<void> {
  const { CompilerClient } = await import('./kernel/compiler/compiler-client');
  const lines: string[] = [];
  const compiler = new CompilerClient((l) => lines.push(l));
  try {
    await compiler.ready;
  } catch (e) {
    process.stdout.write(
      `Kernel caches not prepared (the kernel will make them at its first start): ${(e as Error).message.split('\n')[0]}\n`,
    );
  } finally {
    compiler.close();
  }
}

async function install(args: string[]): Promise<void> {
  const scope = parseScope(args);
  await warmKernelCache();
  process.stdout.write(installSpec(scope) + '\n');
}

function uninstall(args: string[]): void {
  process.stdout.write(uninstallSpec(parseScope(args)) + '\n');
}

async function kernel(args: string[]): Promise<void> {
  const file = flagValue(args, '--connection-file') ?? args.find((a) => a.endsWith('.json'));
  if (!file) usage(2);
  // V8 keeps 10 frames: a modelFn error's path through the library (run loop, step, graph)
  // takes about that many, and the user's cell frames below it would be cut off. The
  // traceback folds the library's frames, so more of them cost the reader nothing.
  Error.stackTraceLimit = 50;
  const { readConnectionFile } = await import('./kernel/protocol/connection');
  const connection = readConnectionFile(file);
  // The compiler thread first: TypeScript starts up while the library and zeromq load.
  const { CompilerClient } = await import('./kernel/compiler/compiler-client');
  // Bound now: once the kernel runs, process.stderr.write is captured into cells.
  const stderr = process.stderr.write.bind(process.stderr);
  const log = (l: string): void => void stderr(`[tfjs-estimator kernel] ${l}\n`);
  const compiler = new CompilerClient(log);
  const { Kernel } = await import('./kernel/protocol/server');
  const k = new Kernel({ connection, cwd: process.cwd(), compiler, log });
  await k.start();
}

function run(args: string[]): void {
  const { notebook: nb, out, timeout } = parseRunArgs(args);
  fs.mkdirSync(out, { recursive: true });
  const source = path.resolve(nb);
  const target = path.join(out, path.basename(nb));
  const { python } = jupyterOrExit();
  // Cells run in the notebook's own folder, as they do in Jupyter.
  const exec = spawnSync(
    python,
    [
      '-m',
      'nbconvert',
      '--to',
      'notebook',
      '--execute',
      `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
      `--ExecutePreprocessor.timeout=${timeout}`,
      '--output-dir',
      out,
      '--output',
      path.basename(nb),
      source,
    ],
    { stdio: 'inherit', cwd: path.dirname(source) },
  );
  if (exec.status !== 0) process.exit(exec.status ?? 1);
  // Trusted, as the Notebook trusts a notebook it ran and saved: its charts' scripts run when
  // the user opens it (nbformat's `jupyter trust`, which Debian ships without its command).
  const sign = spawnSync(python, ['-m', 'nbformat.sign', '--log-level=WARN', target], { stdio: 'inherit' });
  if (sign.status !== 0)
    process.stderr.write(`tfjs-estimator run: could not mark ${target} trusted; its charts draw after File > Trust Notebook\n`);
  const html = spawnSync(python, ['-m', 'nbconvert', '--to', 'html', target], { stdio: 'inherit' });
  if (html.status !== 0) process.exit(html.status ?? 1);
  process.stdout.write(`Executed notebook: ${target}\nHTML export: ${target.replace(/\.ipynb$/, '.html')}\n`);
}

/** A usage mistake prints the usage (exit 2); any other failure one line saying what failed (exit 1). */
function fail(cmd: string, e: unknown): never {
  if (e instanceof UsageError) {
    process.stderr.write(`tfjs-estimator ${cmd}: ${e.message}\n`);
    usage(2);
  }
  process.stderr.write(`tfjs-estimator ${cmd} failed: ${(e as Error).message}\n`);
  process.exit(1);
}

const [cmd, ...rest] = process.argv.slice(2);
switch (cmd) {
  case 'install':
    install(rest).catch((e: unknown) => fail(cmd, e));
    break;
  case 'uninstall':
    try {
      uninstall(rest);
    } catch (e) {
      fail(cmd, e);
    }
    break;
  case 'kernel':
    kernel(rest).catch((e: Error) => {
      process.stderr.write(`tfjs-estimator kernel failed to start: ${e.message}\n`);
      process.exit(1);
    });
    break;
  case 'run':
    try {
      run(rest);
    } catch (e) {
      fail(cmd, e);
    }
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
