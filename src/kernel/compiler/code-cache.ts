// Loads a large CommonJS module with V8's code cache: TypeScript (8 MB of JavaScript) would
// otherwise be parsed and its hot functions compiled afresh at every kernel start. The cache
// is written after the compiler has warmed up, so it holds the functions a start needs.
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import Module from 'module';
import { writeAtomic } from './cache-dir';

export interface CachedModule {
  exports: unknown;
  /** Writes the cache if it was missing or rejected; call once the module has done its work. */
  save(): void;
}

export function requireWithCodeCache(id: string, cacheDir: string): CachedModule {
  const file = require.resolve(id);
  const existing = require.cache[file];
  if (existing) return { exports: existing.exports, save: () => undefined };
  const cacheFile = path.join(cacheDir, `${path.basename(path.dirname(path.dirname(file)))}-${process.version}-${process.arch}.v8cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
  const fn = script.runInThisContext() as (e: unknown, r: NodeRequire, m: Module, f: string, d: string) => void;
  fn.call(mod.exports, mod.exports, mod.require.bind(mod) as NodeRequire, mod, file, path.dirname(file));
  mod.loaded = true;
  require.cache[file] = mod;
  const stale = cachedData === undefined || script.cachedDataRejected === true;
  return {
    exports: mod.exports,
    save: () => {
      if (!stale) return;
      try {
        writeAtomic(cacheFile, script.createCachedData());
      } catch {
        // A cache is an optimisation; a read-only folder only costs start-up time.
      }
    },
  };
}
