/** The one live stream of the page: ticks (counts, rates, newest series points) and events. */
import { useEffect, useState } from "preact/hooks";
import { follow } from "./api.js";
import type { LiveEvent, Tick } from "./types.js";

let lastTick: Tick | undefined;
let connected = false;
const tickListeners = new Set<(t: Tick) => void>();
const eventListeners = new Set<(e: LiveEvent) => void>();
const statusListeners = new Set<(c: boolean) => void>();

/** Opens the stream for what the current view follows; the returned function closes it. */
export function startLive(filter: { queue?: string; task?: string }): () => void {
  return follow(
    filter,
    (m) => {
      if (m.event === "tick") {
        lastTick = m.data as Tick;
        for (const l of tickListeners) l(lastTick);
      } else if (m.event === "event") for (const l of eventListeners) l(m.data as LiveEvent);
    },
    (c) => {
      connected = c;
      for (const l of statusListeners) l(c);
    },
  );
}

/** The latest tick (re-renders on each). */
export function useTick(): Tick | undefined {
  const [t, setT] = useState(lastTick);
  useEffect(() => {
    tickListeners.add(setT);
    return () => void tickListeners.delete(setT);
  }, []);
  return t;
}

/** Calls `f` for each tick (for charts that append points). */
export function useTickEffect(f: (t: Tick) => void): void {
  useEffect(() => {
    tickListeners.add(f);
    return () => void tickListeners.delete(f);
  }, [f]);
}

/** Whether the live stream is connected. */
export function useConnected(): boolean {
  const [c, setC] = useState(connected);
  useEffect(() => {
    statusListeners.add(setC);
    return () => void statusListeners.delete(setC);
  }, []);
  return c;
}

/** Calls `f` for every event the stream brings (those of the followed queue or task). */
export function useLiveEvent(f: (e: LiveEvent) => void): void {
  useEffect(() => {
    eventListeners.add(f);
    return () => void eventListeners.delete(f);
  }, [f]);
}
