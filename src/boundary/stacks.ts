// stacks: the program never sees retrace's own frames. Program code called by retrace (a callback
// delivered by a boundary module in record, by the sequencer in replay) has retrace's functions
// below it on the stack, and they differ between the two modes: Express's error page and mocha's
// failure report print `err.stack`, and the printed text differed (issue 12, class a).
//
// V8 formats a stack (when the program reads `error.stack`) with Error.prepareStackTrace when that
// is a function: it looks up a data property (an accessor is not called), and Node's own callback,
// when source maps are enabled, calls it too. retrace sets it to a formatter that does what the
// default does (Error.prototype.toString, then the call sites) with the call sites that are not
// retrace's, nor Node's own functions that retrace called (AsyncResource#runInAsyncScope under the
// sequencer). It is the same function in record and replay, so the program sees the same thing;
// what the program sets replaces it, as it would replace the default.
//
// Limits (docs/boundaries.md): a prepareStackTrace of the program's own (source-map-support, jest's)
// receives every call site, retrace's included; with source maps enabled (--enable-source-maps,
// tsx, process.setSourceMapsEnabled) Node's source-mapped formatting is left in place, frames and
// all; and Error.prepareStackTrace reads as a function, where Node leaves it undefined.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Boundary } from './boundary.js';
import { packageRoot } from '../runtime/paths.js';
import { disguise } from './wrap.js';
import { OWN_FORMATTER } from '../core/trace/codec.js';

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
    // Node's own function called by retrace (the sequencer's runInAsyncScope): not the program's.
    if (isNodeInternal(file) && isOwn(frames[i + 1]?.getFileName())) continue;
    out.push(frames[i]!);
  }
  return out;
}

const errorToString = Error.prototype.toString;

/** Node's formatting without a default of its own on Error (older Node 22): toString, then the call sites. */
function formatLikeNode(error: Error, sites: NodeJS.CallSite[]): string {
  let head: string;
  try {
    head = errorToString.call(error);
  } catch {
    head = '<error>';
  }
  if (sites.length === 0) return head;
  return `${head}\n    at ${sites.join('\n    at ')}`;
}

const sourceMapsEnabled = () => (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled === true;

type Prepare = (error: Error, frames: NodeJS.CallSite[]) => unknown;

export const stacksBoundary: Boundary = {
  name: 'stacks',
  install() {
    const desc = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    if (desc && (!('value' in desc) || !desc.writable)) return;
    // Node 24 (and later 22s) expose their default formatter here (ErrorPrepareStackTrace, which
    // applies source maps when they are enabled): it formats the program's call sites. Without one,
    // the default is written out, and left to Node when source maps are on.
    const nodeDefault = typeof desc?.value === 'function' ? (desc.value as Prepare) : undefined;
    if (desc?.value !== undefined && !nodeDefault) return; // something already set its own
    if (!nodeDefault && sourceMapsEnabled()) return;
    const prepare = disguise(function prepareStackTrace(error: Error, frames: NodeJS.CallSite[]) {
      const sites = programCallSites(frames);
      return nodeDefault ? nodeDefault(error, sites) : formatLikeNode(error, sites);
    }, nodeDefault ?? function prepareStackTrace() {});
    Object.defineProperty(prepare, OWN_FORMATTER, { value: true });
    (Error as { prepareStackTrace?: Prepare }).prepareStackTrace = prepare;
    if (nodeDefault) return;
    // Source maps turned on later (tsx does as it loads), with no Node default to format through:
    // Node's own mapped formatting takes over.
    const setSourceMapsEnabled = (process as { setSourceMapsEnabled?: (on: boolean) => void }).setSourceMapsEnabled;
    if (typeof setSourceMapsEnabled === 'function') {
      Object.defineProperty(process, 'setSourceMapsEnabled', {
        configurable: true,
        writable: true,
        value: disguise(function setSourceMapsEnabled_(this: unknown, on: boolean) {
          if (on && Error.prepareStackTrace === prepare) (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
          return setSourceMapsEnabled.call(this, on);
        }, setSourceMapsEnabled),
      });
    }
  },
};
