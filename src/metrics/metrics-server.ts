import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { BearerTokens } from "../bearer-tokens.js";
import type { Service } from "../lifecycle.js";
import type { Logger } from "../logger.js";
import type { JetqMetrics } from "./jetq-metrics.js";

/** Parameters of {@link MetricsServer}. */
export interface MetricsServerParams {
  metrics: JetqMetrics;
  /** Port to listen on (0 = any free port). */
  port: number;
  /** Address to bind. @defaultValue `"127.0.0.1"` */
  host?: string;
  /**
   * Accepted bearer tokens; with any, a scrape needs `Authorization: Bearer <token>` (else 401).
   * `jetq serve` passes the HTTP gateway's tokens. @defaultValue none (open)
   */
  tokens?: readonly string[];
  log: Logger;
}

/** Serves `GET /metrics` in the Prometheus text format. */
export class MetricsServer implements Service {
  private server?: Server;
  private readonly tokens: BearerTokens;

  constructor(private readonly p: MetricsServerParams) {
    this.tokens = new BearerTokens(p.tokens ?? []);
  }

  /** The URL of the metrics endpoint (after `start`). */
  get url(): string {
    const a = this.server?.address();
    const port = a && typeof a === "object" ? a.port : this.p.port;
    return `http://${this.p.host ?? "127.0.0.1"}:${port}/metrics`;
  }

  /** Starts listening. */
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      if (this.tokens.enabled && !this.tokens.accepts(req.headers.authorization)) {
        res
          .writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="jetq"' })
          .end("a valid bearer token is required\n");
        return;
      }
      this.p.metrics.text().then(
        (body) => res.writeHead(200, { "content-type": this.p.metrics.registry.contentType }).end(body),
        (err: Error) => {
          this.p.log.error("metrics collection failed", { error: err.message });
          res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
        },
      );
    });
    this.server.listen(this.p.port, this.p.host ?? "127.0.0.1");
    await once(this.server, "listening");
    this.p.log.info("metrics listening", { url: this.url });
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    if (!this.server?.listening) return;
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, "close");
  }
}
