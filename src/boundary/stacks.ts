// stacks: the program never sees retrace's own frames. Program code called by retrace (a callback
// delivered by a boundary module in record, by the sequencer in replay) has retrace's functions
// below it on the stack, and they differ between the two modes: Express's error page and mocha's
// failure report print `err.stack`, and the printed text differed (issue 12, class a).
//
// Node formats a stack (when the program reads `error.stack`) by calling Error.prepareStackTrace
// (lib/internal/errors.js: Node 24 puts its own default formatter there, ErrorPrepareStackTrace,
// which applies source maps when they are on). retrace makes the property an accessor: it reads as
// a formatter that hands the formatter in place (Node's, or the program's) only the program's call
// sites: not retrace's frames, nor Node's functions that retrace called (AsyncResource#runInAsyncScope
// under the sequencer). A formatter the program sets is kept, and read back as the same function it
// set (a wrapper would fail `Error.prepareStackTrace === mine`): V8 reaches it through the getter,
// which only Node's own formatting reads in the moment a stack is formatted.
//
// Class b: a formatter of the program's (source-map-support, which jest and ts-node install) reads
// files. It runs whenever a stack is first read: by the program, or by the recorder encoding an
// error. It runs unobserved, in both modes, so that its reads are never crossings of the recording:
// it formats the same call sites whenever it runs, and reads the program's own files.
//
// The outermost frames where the event loop entered JavaScript (node:internal/timers'
// processImmediate/listOnTimeout, a socket's onStreamRead) are left out too: replay enters through
// its sequencer where record entered through the real timer or socket.
//
// Limits (docs/boundaries.md): older Node 22 releases without a default formatter on Error, and
// programs that replace the property itself (defineProperty), keep Node's formatting, frames and all.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { packageRoot } from '../runtime/paths.js';
import { disguise } from './wrap.js';

const ownDir = path.join(packageRoot, 'dist') + path.sep;
const ownUrl = pathToFileURL(ownDir).href;
const isOwn = (file: string | null | undefined) => !!file && (file.startsWith(ownDir) || file.startsWith(ownUrl));
const isNodeInternal = (file: string | null | undefined) => !!file && file.startsWith('node:');

/** The call sites the program would have without retrace. */
export function programCallSites(frames: NodeJS.CallSite[]): NodeJS.CallSite[] {
  const out: NodeJS.CallSite[] = [];
  for (let i = 0; i < frames.length; i++) {
    const file = frames[i]!.getFileName();
    if (isOwn(file)) continue;
    // Node's own function between two of retrace's (the sequencer's runInAsyncScope): not the
    // program's. One that retrace called on the program's behalf (the real emit) stays.
    if (isNodeInternal(file) && i > 0 && isOwn(frames[i - 1]!.getFileName()) && isOwn(frames[i + 1]?.getFileName())) continue;
    out.push(frames[i]!);
  }
  // Where the event loop entered JavaScript differs by mode: a timer's listOnTimeout or a socket's
  // onStreamRead in record, the sequencer's immediate in replay. Those outermost frames are left out.
  while (out.length > 1 && EVENT_LOOP_ENTRY.has(out[out.length - 1]!.getFileName() ?? '')) out.pop();
  return out;
}

const EVENT_LOOP_ENTRY = new Set(['node:internal/timers', 'node:internal/stream_base_commons']);

type Prepare = (error: Error, frames: NodeJS.CallSite[]) => unknown;

/** Whether Node's own formatting is reading the property (the formatter is about to be called). */
function calledByNodeFormatting(): boolean {
  // The caller's frame: Node's prepareStackTraceCallback / maybeOverridePrepareStackTrace.
  const saved = Error.stackTraceLimit;
  const holder: { stack?: unknown } = {};
  try {
    Error.stackTraceLimit = 3;
    const prev = formatting;
    formatting = true; // a nested read (below) must not recurse into this check
    try {
      Error.captureStackTrace(holder, calledByNodeFormatting);
      const sites = holder.stack as unknown;
      return Array.isArray(sites) && sites.some((s: NodeJS.CallSite) => s.getFileName() === 'node:internal/errors');
    } finally {
      formatting = prev;
    }
  } finally {
    Error.stackTraceLimit = saved;
  }
}
let formatting = false;

export const stacksBoundary: Boundary = {
  name: 'stacks',
  install(engine: Engine) {
    const desc = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    if (!desc || !('value' in desc) || typeof desc.value !== 'function' || !desc.configurable) return;
    const nodeDefault = desc.value as Prepare;
    let current: Prepare | undefined = nodeDefault;
    const structured: Prepare = (_e, frames) => frames;
    const programFormatting = disguise(function prepareStackTrace(this: unknown, error: Error, frames: NodeJS.CallSite[]) {
      const fn = current;
      if (fn === undefined) return nodeDefault(error, programCallSites(frames));
      const sites = programCallSites(frames);
      return fn === nodeDefault ? nodeDefault(error, sites) : engine.unobserved(() => fn.call(this, error, sites));
    }, nodeDefault);
    Object.defineProperty(Error, 'prepareStackTrace', {
      configurable: true,
      enumerable: desc.enumerable,
      get() {
        // The structured capture inside the check reads this property again: answer it plainly.
        if (formatting) return structured;
        if (current === undefined && !calledByNodeFormatting()) return undefined;
        if (current !== nodeDefault && current !== undefined && !calledByNodeFormatting()) return current;
        return programFormatting;
      },
      set(fn: Prepare | undefined) {
        current = fn === programFormatting ? nodeDefault : fn;
      },
    });
  },
};
