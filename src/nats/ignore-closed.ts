/**
 * Runs a publish about a work item (keep-alive, nak) that may come from a timer. It throws once the
 * connection is closed; the item is then redelivered after its ack wait anyway, so there is nothing
 * to do but not crash the process.
 */
export function ignoreClosed(publish: () => void): void {
  try {
    publish();
  } catch {
    // connection closed: JetStream redelivers the item after its ack wait
  }
}
