// node --test on a suite with a failing test (the test runner forks a child per file).
export default {
  kind: 'runner',
  what: 'node --test on 2 files, one failing assertion (exit 1)',
  files: {
    'test/a.test.mjs': "import test from 'node:test';\nimport assert from 'node:assert';\ntest('adds', () => assert.equal(1 + 1, 2));\ntest('fails', () => assert.equal(Math.max(1, 2), 3));\n",
    'test/b.test.mjs': "import test from 'node:test';\ntest('waits', async () => { await new Promise((r) => setTimeout(r, 20)); });\n",
  },
  command: ['node', '--test', '--test-reporter=tap', 'test/'],
  limit: "the runner's per-file duration_ms differs in replay (test runners are issue 12's runners work)",
};
