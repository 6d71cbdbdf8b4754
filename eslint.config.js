// Type-checked lint (README "Development"): no floating or misused promises, no unsafe any.
// Runs in `npm test` before the tests.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // dist/: the build's output (npm run build); its sources are linted
  { ignores: ['node_modules/**', '.data/**', 'coverage/**', 'dist/**', 'test-results/**', '.scratch/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Hub plugins and edge drivers implement interfaces whose methods are async by contract
      // (start/stop/open/write return promises); a body with nothing to await is still correct.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a value taken apart on purpose (a login stripped from a node config)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // vitest's `expect(obj.method).toHaveBeenCalled…()` passes methods unbound on purpose
    files: ['test/**'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
