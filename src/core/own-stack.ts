// retrace's own look at the call stack (the program's line for a divergence report, who called a
// patched function). Formatting a stack runs Error.prepareStackTrace when the program set one, and
// that is the program's code: source-map-support (which jest and ts-node install) reads files for
// every frame, through the patched fs. Run from inside retrace, it would record crossings the
// program did not make, or, in replay, attempt ones the recording does not have (jest's
// @jest/source-map calling fs.existsSync on retrace's own files). Node's default formatting is
// used instead, for this one stack, and the program's settings are put back before it runs again.

type Prepare = ((err: Error, frames: NodeJS.CallSite[]) => unknown) | undefined;

function withDefaultFormatting<T>(limit: number, prepare: Prepare, read: () => T): T {
  const saved = { limit: Error.stackTraceLimit, prepare: Error.prepareStackTrace };
  try {
    Error.stackTraceLimit = limit;
    (Error as { prepareStackTrace?: Prepare }).prepareStackTrace = prepare;
  } catch {
    // the program made them read-only: its own formatting it is
  }
  try {
    return read();
  } finally {
    try {
      Error.stackTraceLimit = saved.limit;
      Error.prepareStackTrace = saved.prepare;
    } catch {
      // read-only: nothing was changed
    }
  }
}

/** The current stack, formatted by Node's default formatter (never the program's). */
export function currentStack(limit = 50): string {
  return withDefaultFormatting(limit, undefined, () => new Error().stack ?? '');
}

/** The current stack's call sites, without formatting anything. */
export function currentCallSites(limit = 50): NodeJS.CallSite[] {
  return withDefaultFormatting(limit, (_err, frames) => frames, () => {
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder);
    return holder.stack ?? [];
  });
}
