// performance.mark/measure and a PerformanceObserver.
export default {
  kind: 'cli',
  what: 'performance.mark, measure and a PerformanceObserver printing durations',
  files: { 'app.js': "const { performance, PerformanceObserver } = require('node:perf_hooks');\nnew PerformanceObserver((list) => { for (const e of list.getEntries()) console.log(e.entryType, e.name, e.duration.toFixed(3)); }).observe({ entryTypes: ['measure'] });\nperformance.mark('a');\nsetTimeout(() => { performance.mark('b'); performance.measure('a to b', 'a', 'b'); }, 10);\n" },
  command: ['node', 'app.js'],
  limit: 'performance marks and measures take the internal clock of Node.js, not the recorded performance.now()',
};
