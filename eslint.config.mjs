// ESLint: eslint's and typescript-eslint's recommended rules over the TypeScript sources, the
// tests, the benchmarks and the Node scripts. Layout is Prettier's job (.prettierrc.json), and the
// import layering is test/layering.test.ts's. `npm run lint`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'build/', 'node_modules/', 'kernel-cache/', 'test-artifacts/', 'notebooks/executed/', 'notebooks/model_dirs/'] },
  // A disable comment that disables nothing is an error: each one must still be needed.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter kept for its position; a caught error may go unnamed in use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Plain Node scripts (CommonJS): build steps, the test runner, the notebooks' server.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { globals: globals.node } },
);
