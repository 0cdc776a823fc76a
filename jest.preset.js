// Shared Jest settings for every project. Tests run the TypeScript sources of
// workspace packages directly (the "@kubets/source" export condition), so a
// unit test never needs a build; integration tests that spawn services run the
// built apps (the Nx test target depends on build).
const path = require('node:path');

/** @param {string} projectDir */
module.exports = function preset(projectDir) {
  return {
    rootDir: projectDir,
    testEnvironment: 'node',
    testEnvironmentOptions: {
      customExportConditions: ['@kubets/source', 'node', 'require', 'default'],
    },
    transform: {
      '^.+\\.ts$': [
        require.resolve('@swc/jest'),
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleFileExtensions: ['ts', 'js', 'json'],
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.test.ts'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    // Integration tests start real processes; give them room, but never unbounded.
    testTimeout: 60_000,
    cacheDirectory: path.join(__dirname, 'node_modules', '.cache', 'jest'),
  };
};
