import type { Context } from "hono";
import { badRequest } from "./http-errors.js";

/** An integer query parameter in `min`-`max` (`dflt` when absent). @throws HttpError 400 `invalid_request` */
export function intQuery(c: Context, name: string, dflt: number, min: number, max: number): number {
  const text = c.req.query(name);
  if (text === undefined) return dflt;
  const v = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!(v >= min && v <= max)) throw badRequest("invalid_request", `${name} must be an integer ${min}-${max}`);
  return v;
}
