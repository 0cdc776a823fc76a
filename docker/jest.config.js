const preset = require('../jest.preset.js')(__dirname);
// .build/ holds staged build contexts (with node_modules copies): not for Jest to crawl.
module.exports = { ...preset, modulePathIgnorePatterns: ['<rootDir>/.build/'], testPathIgnorePatterns: [...preset.testPathIgnorePatterns, '/.build/'] };
