// @ts-check
import tseslint from 'typescript-eslint';
import postern from './lint/layer-imports.js';
import { LAYER_RULES } from './lint/layers.js';

export default tseslint.config(
  { ignores: ['dist/', '.build/', 'node_modules/'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts', 'src/**/*.test.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  // The lint code itself is plain JavaScript outside tsconfig.json: linted without type information.
  {
    files: ['eslint.config.js', 'lint/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false } },
  },
  // The layers of docs/architecture.md ("Layer rules"), table in lint/layers.js. Tests and
  // benchmarks are not layered: they assemble real parts (a backend, a config) around what they test.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    plugins: { postern },
    rules: { 'postern/layer-imports': ['error', LAYER_RULES] },
  },
);
