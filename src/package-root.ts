// The one place that knows where this package lies on disk: the folder of its package.json
// (kernel-spec/, build/ with the native addon, dist/ with the compiled code). It sits beside
// index.ts and imports nothing of the library, so every folder may use it.
import * as fs from 'fs';
import * as path from 'path';

const NAME = 'tfjs-estimator';
let root: string | undefined;

/** The package's folder: the nearest one above this file whose package.json is tfjs-estimator's. */
export function packageRoot(): string {
  if (root) return root;
  // dist/src/package-root.js when compiled, src/package-root.ts when run from source.
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === NAME) return (root = dir);
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(
    `${NAME}: no package.json named ${NAME} in any folder above ${__dirname}; run the library from its package (or a checkout), not from a copied file`,
  );
}

/** The compiled tree this file runs from: dist/ (src/, test/ and bench/ below it). */
export const compiledRoot = path.join(__dirname, '..');

/** The version in package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
