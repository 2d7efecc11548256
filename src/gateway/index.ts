/**
 * `jetq/server`: the `jetq serve` service and its HTTP gateway (emq-compatible endpoints and the
 * `/v1` REST API). Kept apart from the `jetq` entry point so that library users never load the
 * HTTP stack. See docs/http.md.
 */
export type { JetqServiceOptions } from "../server/jetq-service.js";
export { JetqService } from "../server/jetq-service.js";
export { BearerTokens, loadTokens, type TokenSources } from "./auth.js";
export { DEFAULT_EXPIRY_MS, EMQ_QUEUE_DEFAULTS, EMQ_TASK_TYPE, type EmqTaskView, emqRetryMs } from "./emq-tasks.js";
export { type ErrorBody, HttpError } from "./http-errors.js";
export { HttpGateway, type HttpGatewayParams } from "./http-server.js";
export { DEFAULT_LIMITS, type GatewayLimits } from "./limits.js";
export { type ListenAddress, parseListenAddress } from "./listen-address.js";
