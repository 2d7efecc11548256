/**
 * `jetq/server`: the `jetq serve` service and its HTTP gateway (emq-compatible endpoints and the
 * `/v1` REST API). Kept apart from the `jetq` entry point so that library users never load the
 * HTTP stack. See docs/http.md.
 */
export { BearerTokens, loadTokens, type TokenSources } from "../gateway/auth.js";
export {
  DEFAULT_EXPIRY_MS,
  EMQ_QUEUE_DEFAULTS,
  EMQ_TASK_TYPE,
  type EmqTaskView,
  emqRetryMs,
} from "../gateway/emq-tasks.js";
export { type ErrorBody, HttpError } from "../gateway/http-errors.js";
export { HttpGateway, type HttpGatewayParams } from "../gateway/http-server.js";
export { DEFAULT_LIMITS, type GatewayLimits } from "../gateway/limits.js";
export { type ListenAddress, parseListenAddress } from "../gateway/listen-address.js";
export type { JetqServiceOptions } from "./jetq-service.js";
export { JetqService } from "./jetq-service.js";
