import type { Boundary } from './boundary.js';

// Being written: see the issue.
export const fsBoundary: Boundary = {
  name: 'fs',
  install() {},
};
