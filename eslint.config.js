// Lint: strict typing, async hygiene, and the layering rules of DESIGN.md.
import tseslint from 'typescript-eslint';

/** Folders in dependency order: a folder may import only from folders listed before it. */
const layers = ['common', 'raft', 'store', 'network', 'manager', 'agent', 'cluster', 'stack', 'api', 'daemon', 'cli', 'ui'];

const layerRules = layers.map((layer, i) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: layers.slice(i + 1).map((later) => ({
          group: [`**/${later}/**`, `../${later}/*`, `../../${later}/*`],
          message: `src/${layer} must not import from src/${later} (DESIGN.md layering)`,
        })),
      },
    ],
  },
}));

/** Deterministic cores: time and randomness come in through Clock and Random. */
const deterministic = {
  files: ['src/raft/**/*.ts', 'src/store/**/*.ts', 'src/manager/orchestrator/**/*.ts', 'src/manager/scheduler/**/*.ts'],
  ignores: ['**/*.test.ts', 'src/raft/node.ts', 'src/raft/wal*.ts', 'src/raft/transport*.ts', 'src/raft/snapshot-file.ts', 'src/raft/cipher.ts', 'src/store/persist/**'],
  rules: {
    'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate'],
    'no-restricted-properties': [
      'error',
      { object: 'Date', property: 'now', message: 'use the injected Clock' },
      { object: 'Math', property: 'random', message: 'use the injected Random' },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  deterministic,
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
);
