// The channels through which tools outside the engine observe a replay (`retrace print`, `why`,
// and anything later), declared in one table as undici declares its own. They are Node's
// diagnostics channels: publishing costs nothing while nobody subscribes, and a subscriber needs
// no handle on the engine.
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TraceEvent } from './trace/reader.js';

export interface ReplayEventMessage {
  /** The recorded event the replay has just consumed: the program is about to receive what it holds. */
  event: TraceEvent;
}

export const diagnostics = {
  /** Published by the replayer for every recorded event it consumes, in order. */
  replayEvent: diagnosticsChannel.channel('retrace:replay:event'),
} as const;

/** Calls `listener` with each recorded event the replay consumes from now on; returns the unsubscribe. */
export function onReplayEvent(listener: (event: TraceEvent) => void): () => void {
  const subscriber = (message: unknown) => listener((message as ReplayEventMessage).event);
  diagnostics.replayEvent.subscribe(subscriber);
  return () => void diagnostics.replayEvent.unsubscribe(subscriber);
}
