import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// `@libs/<name>` (and `@libs/<name>/workload`, what workloads load of a lib without Nest)
// resolves to the lib's source, as tsconfig's `paths` does.
const alias = [
  { find: /^@libs\/([a-z-]+)\/workload$/, replacement: `${root}libs/$1/src/workload.ts` },
  { find: /^@libs\/([a-z-]+)$/, replacement: `${root}libs/$1/src/index.ts` },
  // graphql ships CJS (`main`) and ESM (`module`): Vite would give our sources the ESM file while
  // Nest and Apollo load the CJS one, and graphql refuses types "from another realm".
  { find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') },
];

// Nest needs decorator metadata, which esbuild drops: SWC compiles the tests.
const plugins = [
  swc.vite({
    module: { type: 'es6' },
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
  }),
];

const shared = { alias, plugins } as const;

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias: shared.alias },
        plugins: shared.plugins,
        test: {
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'scripts/**/*.spec.ts'],
          exclude: ['apps/admin-ui/**', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        // The admin portal's components (React) in a simulated DOM.
        plugins: [react()],
        test: {
          name: 'ui',
          include: ['apps/admin-ui/**/*.spec.{ts,tsx}'],
          environment: 'happy-dom',
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias: shared.alias },
        plugins: shared.plugins,
        test: {
          name: 'int',
          include: ['apps/**/*.int-spec.ts', 'libs/**/*.int-spec.ts', 'helm/**/*.int-spec.ts'],
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias: shared.alias },
        plugins: shared.plugins,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e-spec.ts'],
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
