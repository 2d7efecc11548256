import { createHash, timingSafeEqual } from "node:crypto";

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/**
 * The bearer tokens the HTTP gateway (and `jetq serve`'s metrics endpoint) accepts. Tokens are kept as SHA-256 digests and compared with
 * `crypto.timingSafeEqual` on the equal-length digests, against every token without stopping at a
 * match, so neither a token's content nor its length shows in the answer time.
 */
export class BearerTokens {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = [...new Set(tokens.map((t) => t.trim()).filter((t) => t !== ""))].map(digest);
  }

  /** True when at least one token is configured (otherwise the gateway is open). */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** True when `authorization` is `Bearer <a configured token>`. */
  accepts(authorization: string | undefined): boolean {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    const given = digest(m?.[1] ?? "");
    let ok = false;
    for (const d of this.digests) if (timingSafeEqual(d, given)) ok = true;
    return ok && m !== null;
  }
}
