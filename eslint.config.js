// Lint: strict typing, async hygiene, no import cycles, and the layering rules of DESIGN.md.
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Folders in dependency order: a folder may import only from folders listed before it. */
const layers = ['common', 'raft', 'store', 'network', 'manager', 'agent', 'cluster', 'stack', 'api', 'ui', 'daemon', 'cli'];

const layerZones = layers.slice(0, -1).map((layer, i) => ({
  target: `./src/${layer}`,
  from: layers.slice(i + 1).map((later) => `./src/${later}`),
  message: `src/${layer} must not import from later layers (DESIGN.md layering: ${layers.join(' → ')})`,
}));

/** Import graph checks: no cycles anywhere, and each layer imports only from the ones before it. */
const importRules = {
  files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
  plugins: { 'import-x': importX },
  settings: {
    'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
  },
  rules: {
    'import-x/no-cycle': 'error',
    'import-x/no-restricted-paths': ['error', { zones: layerZones }],
  },
};

/** Deterministic cores: time and randomness come in through Clock and Random. */
const deterministic = {
  files: ['src/raft/**/*.ts', 'src/store/**/*.ts', 'src/manager/orchestrator/**/*.ts', 'src/manager/scheduler/**/*.ts'],
  ignores: ['**/*.test.ts', 'src/raft/node.ts', 'src/raft/wal*.ts', 'src/raft/transport*.ts', 'src/raft/snapshot-file.ts', 'src/raft/cipher.ts', 'src/raft/timers.ts', 'src/raft/testing.ts', 'src/store/persist/**'],
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
  importRules,
  deterministic,
  {
    // node:test's describe/it return promises the runner itself awaits.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
);
