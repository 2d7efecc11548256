import { fileURLToPath } from "node:url";

/** The repository root (the parent of bench/), with a trailing slash. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
