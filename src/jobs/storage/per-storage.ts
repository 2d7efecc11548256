import type { JetStreamStorage } from "./jetstream-storage.js";

/**
 * A factory that makes one instance per storage, on first request; later requests get the same
 * instance, whatever their other arguments.
 */
export function onePerStorage<T, A extends unknown[]>(make: (storage: JetStreamStorage, ...args: A) => T) {
  const made = new WeakMap<JetStreamStorage, T>();
  return (storage: JetStreamStorage, ...args: A): T => {
    let v = made.get(storage);
    if (v === undefined) {
      v = make(storage, ...args);
      made.set(storage, v);
    }
    return v;
  };
}

/**
 * Like {@link onePerStorage} for things opened asynchronously (a bucket, a watch): one promise per
 * storage, forgotten when it fails so that the next request tries again.
 */
export function oneOpenedPerStorage<T>(open: (storage: JetStreamStorage) => Promise<T>) {
  const opened = new WeakMap<JetStreamStorage, Promise<T>>();
  return (storage: JetStreamStorage): Promise<T> => {
    let p = opened.get(storage);
    if (p === undefined) {
      p = open(storage);
      opened.set(storage, p);
      p.catch(() => opened.delete(storage));
    }
    return p;
  };
}
