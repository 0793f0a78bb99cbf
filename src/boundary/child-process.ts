import type { Boundary } from './boundary.js';

// Being written: see the issue.
export const childProcessBoundary: Boundary = {
  name: 'child-process',
  install() {},
};
