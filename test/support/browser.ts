import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's Chromium (installed by scripts/bootstrap.mjs); no browser is ever downloaded. */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags for a quiet, headless, offline-friendly Chromium. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A real Chromium with a fresh profile; `close()` removes the profile. */
export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium on a new temporary profile. */
export async function launchChromium(
  opts: { colorScheme?: "light" | "dark"; width?: number; height?: number } = {},
): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "jetq-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: opts.width ?? 1360, height: opts.height ?? 900 },
    colorScheme: opts.colorScheme ?? "light",
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
