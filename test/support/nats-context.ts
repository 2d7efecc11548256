import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A nats CLI configuration directory with the given contexts (and a selected one). */
export function natsConfig(contexts: Record<string, object>, selected?: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), "jetq-ctx-"));
  const dir = join(home, "nats", "context");
  mkdirSync(dir, { recursive: true });
  for (const [name, ctx] of Object.entries(contexts)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(ctx));
  if (selected) writeFileSync(join(home, "nats", "context.txt"), `${selected}\n`);
  return { XDG_CONFIG_HOME: home };
}
