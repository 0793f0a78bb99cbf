// The programmatic API.
export { record, type RecordOptions } from './cli/record.js';
export { replay, type ReplayOptions } from './cli/replay.js';
export { info, type ProcessInfo } from './cli/info.js';
export { TraceFile, TraceError, type TraceEvent } from './core/trace/reader.js';
export { DIVERGED_EXIT_CODE, TRUNCATED_EXIT_CODE } from './core/replayer.js';
