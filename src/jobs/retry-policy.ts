import { ValidationError } from "../errors.js";

/**
 * Decides how long a failed task waits before its next try.
 * `delayMs(tries)` gets the number of tries made so far (1 after the first failure).
 */
export interface RetryPolicy {
  delayMs(tries: number): number;
}

/** A policy from a plain function of the try count. */
export function customPolicy(fn: (tries: number) => number): RetryPolicy {
  return { delayMs: (n) => Math.max(0, fn(n)) };
}

/**
 * `steps` delays evenly spaced from `minMs` to `maxMs`; try n uses step n (the last step after that),
 * each randomised by ±`jitter` (0..1) of itself so that failed tasks do not retry in lock-step.
 */
export function linearPolicy(steps: number, jitter: number, minMs: number, maxMs: number): RetryPolicy {
  const stride = steps > 1 ? (maxMs - minMs) / (steps - 1) : 0;
  return {
    delayMs(tries) {
      const base = minMs + stride * (Math.min(Math.max(tries, 1), steps) - 1);
      return Math.round(base * (1 - jitter + Math.random() * 2 * jitter));
    },
  };
}

/** Options of {@link exponentialPolicy}. */
export interface ExponentialOptions {
  /** Delay after the first failure. @defaultValue 1000 ms */
  baseMs?: number;
  /** Upper bound of any delay. @defaultValue 600_000 ms (10 min) */
  maxMs?: number;
  /** Growth per try. @defaultValue 2 */
  factor?: number;
  /** "Full jitter": pick uniformly in [delay·(1-jitter), delay]. @defaultValue 0.5 */
  jitter?: number;
}

/** Delay grows as `baseMs · factor^(tries-1)` up to `maxMs`, with jitter. */
export function exponentialPolicy(opts: ExponentialOptions = {}): RetryPolicy {
  const { baseMs = 1000, maxMs = 600_000, factor = 2, jitter = 0.5 } = opts;
  return {
    delayMs(tries) {
      const d = Math.min(maxMs, baseMs * factor ** Math.max(0, tries - 1));
      return Math.round(d * (1 - jitter * Math.random()));
    },
  };
}

/** 20 steps between 1 s and 1 min. */
export const retryLinearOneMinute = linearPolicy(20, 0.5, 1_000, 60_000);
/** 50 steps between 1 min and 10 min; the default. */
export const retryLinearTenMinutes = linearPolicy(50, 0.9, 60_000, 600_000);
/** 20 steps between 10 min and 1 h. */
export const retryLinearOneHour = linearPolicy(20, 0.9, 600_000, 3_600_000);
/** Exponential from 1 s to 10 min with jitter. */
export const retryExponential = exponentialPolicy();
/** The policy used when a client names none. */
export const retryDefault = retryLinearTenMinutes;

const NAMED: Record<string, RetryPolicy> = {
  "1m": retryLinearOneMinute,
  "10m": retryLinearTenMinutes,
  "1h": retryLinearOneHour,
  exponential: retryExponential,
  default: retryDefault,
};

/** Names accepted by {@link retryPolicyByName}. */
export function retryPolicyNames(): string[] {
  return Object.keys(NAMED);
}

/** Looks up a named policy. @throws ValidationError (`unknown_retry_policy`) */
export function retryPolicyByName(name: string): RetryPolicy {
  const p = NAMED[name];
  if (!p) {
    throw new ValidationError(
      "unknown_retry_policy",
      `unknown retry policy ${JSON.stringify(name)}; known: ${retryPolicyNames().join(", ")}`,
    );
  }
  return p;
}

/**
 * A retry policy from what options accept: a policy, a name (`"1m"`, `"10m"`, `"1h"`,
 * `"exponential"`) or a function of the try count returning ms. @defaultValue {@link retryDefault}
 * @throws ValidationError for an unknown name
 */
export function resolveRetryPolicy(p: RetryPolicy | string | ((tries: number) => number) | undefined): RetryPolicy {
  if (p === undefined) return retryDefault;
  if (typeof p === "string") return retryPolicyByName(p);
  if (typeof p === "function") return customPolicy(p);
  return p;
}
