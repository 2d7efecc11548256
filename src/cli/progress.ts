import cliProgress from "cli-progress";

/** Reports how far a long command got. */
export interface Progress {
  /** Sets the number of items (when it becomes known or changes). */
  total(n: number): void;
  /** Counts `n` more items done. */
  advance(n?: number): void;
}

/**
 * Runs `work` with a progress bar on stderr (cli-progress) when stderr is a terminal; elsewhere
 * (scripts, pipes, CI) the bar is not drawn and `work` runs the same. The bar is removed when done.
 */
export async function withProgress<T>(label: string, total: number, work: (p: Progress) => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work({ total() {}, advance() {} });
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  try {
    return await work({
      total: (n) => bar.setTotal(n),
      advance: (n = 1) => bar.increment(n),
    });
  } finally {
    bar.stop();
  }
}
