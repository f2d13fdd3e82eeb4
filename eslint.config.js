// Lint: neostandard (the style of Fastify's own projects), typescript-eslint's type-aware rules that catch real
// bugs, and the dependency rules of src/app.ts's header: no import cycles, features depending one way.
import importX from 'eslint-plugin-import-x'
import neostandard from 'neostandard'
import tseslint from 'typescript-eslint'

/** What a feature must not import: the features that depend on it (see src/app.ts). */
const forbidden = {
  events: ['auth', 'users', 'contacts', 'messages', 'files', 'sessions', 'blocks', 'accounts', 'limits'],
  sessions: ['auth', 'users', 'contacts', 'messages', 'files', 'events', 'blocks', 'accounts'],
  files: ['auth', 'users', 'contacts', 'messages', 'sessions', 'blocks', 'accounts', 'limits'],
  // Blocks depend on events only: users, contacts and messages ask blocks, never the other way round.
  blocks: ['auth', 'users', 'contacts', 'messages', 'files', 'sessions', 'accounts', 'limits'],
  users: ['auth', 'contacts', 'messages', 'accounts'],
  contacts: ['auth', 'messages', 'accounts'],
  messages: ['auth', 'accounts', 'limits'],
  accounts: ['auth'],
  health: ['auth', 'users', 'contacts', 'messages', 'files', 'sessions', 'events', 'blocks', 'accounts', 'limits']
}

export default [
  { ignores: ['node_modules/', 'dist/', 'openapi/', 'web/dist/', 'coverage/', '.tap/', 'data/'] },
  ...neostandard({ ts: true }),
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    rules: {
      // tap runs subtests it was handed without their promise being awaited.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [
          { from: 'package', name: ['test', 'resolves', 'rejects'], package: 'tap' },
          { from: 'package', name: ['test', 'resolves', 'rejects'], package: '@tapjs/core' },
          { from: 'package', name: ['test'], package: '@tapjs/test' }
        ]
      }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      // `void promise` marks a promise that is deliberately not awaited (no-floating-promises accepts it).
      'no-void': ['error', { allowAsStatement: true }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }]
    },
    settings: { 'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.tsx', '.js'] })] }
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Loops that run until another task flips a flag, and promise executors named for what they settle.
      'no-unmodified-loop-condition': 'off',
      'promise/param-names': 'off'
    }
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', {
        zones: [
          ...Object.entries(forbidden).map(([feature, dependents]) => ({
            target: `./src/features/${feature}`,
            from: dependents.map((dependent) => `./src/features/${dependent}`),
            message: `${feature} must not depend on a feature that depends on it (see src/app.ts)`
          })),
          { target: './src/plugins', from: './src/features', message: 'plugins never import features' },
          { target: ['./src/lib', './src/schemas', './src/db', './src/bus'], from: ['./src/features', './src/plugins', './src/app.ts'], message: 'infrastructure never imports features or the app' }
        ]
      }]
    }
  }
]
