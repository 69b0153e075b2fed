// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Import boundaries of every file: libs by their public entry, and no app from anywhere. */
const boundaries = [
  {
    group: ['@libs/*/*', '!@libs/*/workload'],
    message:
      'Import a lib from its public entry (@libs/<name>, or @libs/<name>/workload: what workloads load of it, without Nest) only.',
  },
  {
    group: ['**/apps/**', '../../apps/*'],
    message: 'Libs and apps never import an app.',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.data/', '**/fixtures/**', 'examples/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        // Nest resolves constructor parameters from emitted metadata: keep class imports as values.
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always'],
      curly: ['error', 'multi-line'],
      'no-console': 'error',
      'no-restricted-imports': ['error', { patterns: boundaries }],
    },
  },
  {
    // The deployer's services drive NATS and the databases through libs (NatsProvisioner,
    // RuntimeDatabases, repositories): what a version and a runtime hold is listed once there.
    files: ['apps/deployer/src/**/*.service.ts', 'apps/deployer/src/**/*.processor.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...boundaries,
            {
              group: ['@nats-io/*', 'mongoose', '@nestjs/mongoose'],
              message:
                'The deployer holds no NATS or database client: use NatsProvisioner, RuntimeDatabases or a repository.',
            },
          ],
        },
      ],
    },
  },
  {
    // Resolvers are transport: authorize, call one service method, map the result. What a
    // resolver needs from the database (even the caller's role: @EffectiveRole()) comes through
    // a service or the guard, never a repository.
    files: ['apps/admin-api/src/**/*.resolver.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...boundaries,
            {
              regex: '\\.repositor(y|ies)(\\.js)?$',
              message: 'A resolver calls a service, never a repository.',
            },
            {
              group: ['@libs/persistence'],
              importNamePattern: '(Repository|^KrtArchiveStore)$',
              message:
                'A resolver calls a service, never a repository (the runtime role: @EffectiveRole()).',
            },
          ],
        },
      ],
    },
  },
  {
    // Scripts, the CLI and benchmarks talk to a terminal.
    files: ['scripts/**', 'apps/cli/**', 'bench/**', '**/*.mjs'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
