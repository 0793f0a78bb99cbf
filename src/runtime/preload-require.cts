// The entry Node loads through NODE_OPTIONS=--require: CommonJS preloads run before any --import
// and before other --require'd tooling captures timers or fs, so retrace patches come first.
// It loads the ES module runtime synchronously (require of ESM, Node 22.12+).
require('./preload.js');
