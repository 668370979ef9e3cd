// Every duration the media module waits for, in one place. The controller takes a
// partial override so tests can run them on fake timers with small numbers.

export type MediaTiming = {
  /** From creating a peer connection to its first "connected": past this, couldNotConnect. */
  connectTimeoutMs: number;
  /** From losing a connected peer ("disconnected"/"failed") to giving up: connectionLost. */
  reconnectTimeoutMs: number;
  /** How often the impolite side retries restartIce() while reconnecting. */
  iceRestartEveryMs: number;
  /** How long the polite side waits for the other side's offer before offering itself. */
  offerWaitMs: number;
};

export const MEDIA_TIMING: MediaTiming = {
  connectTimeoutMs: 15_000,
  reconnectTimeoutMs: 15_000,
  iceRestartEveryMs: 5_000,
  offerWaitMs: 1_000,
};
