import { createPrivateKey, createPublicKey, KeyObject, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import type { Task } from "./task.js";

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** A private key: a `KeyObject`, a 32-byte seed, or the seed as 64 hex characters. */
export type SigningKey = KeyObject | Uint8Array | string;
/** A public key: a `KeyObject`, 32 raw bytes, or 64 hex characters. */
export type VerificationKey = KeyObject | Uint8Array | string;

function bytes(v: Uint8Array | string, what: string): Buffer {
  const b = typeof v === "string" ? Buffer.from(v.trim(), "hex") : Buffer.from(v);
  if (b.length !== 32)
    throw new ConfigError("invalid_key", `${what} must be 32 bytes (64 hex characters), got ${b.length} bytes`);
  return b;
}

/** Turns a seed (bytes or hex) into an ed25519 private key. */
export function privateKeyFrom(key: SigningKey): KeyObject {
  if (key instanceof KeyObject) return key;
  const der = Buffer.concat([PKCS8_ED25519, bytes(key, "signing key")]);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

/** Turns raw public key bytes (or hex) into an ed25519 public key. */
export function publicKeyFrom(key: VerificationKey): KeyObject {
  if (key instanceof KeyObject) return key;
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519, bytes(key, "verification key")]),
    format: "der",
    type: "spki",
  });
}

/** Reads a key file holding 64 hex characters (or 32 raw bytes). */
export function readKeyFile(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new ConfigError("unreadable_file", `cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (raw.length === 32) return raw;
  const hex = Buffer.from(raw.toString("utf8").trim(), "hex");
  raw.fill(0);
  return hex;
}

/** Where the key to sign enqueued tasks with comes from (client options, `jetq serve` flags). */
export interface SigningOptions {
  /** Sign every enqueued task with this ed25519 key (seed bytes, hex, or KeyObject). */
  signingKey?: SigningKey;
  /** Sign with the seed in this file (hex or 32 raw bytes), read for each enqueue call and wiped after. */
  signingSeedFile?: string;
}

/** Where the key to verify tasks with comes from, and whether unsigned tasks are accepted. */
export interface VerificationOptions {
  /** Verify task signatures with this ed25519 public key (raw bytes, hex, or KeyObject). */
  verificationKey?: VerificationKey;
  /** Read the verification key from this file (hex or 32 raw bytes). */
  verificationKeyFile?: string;
  /**
   * With a verification key: accept unsigned tasks (signed ones are still checked). Without this,
   * unsigned or tampered tasks are terminated. @defaultValue false
   */
  signaturesOptional?: boolean;
}

/**
 * The signer of a set of {@link SigningOptions}: a function returning the key for one enqueue
 * call, or undefined when tasks are not signed. A seed file is read on each call and its bytes
 * wiped, so the seed is not kept in memory between enqueues.
 */
export function signerOf(opts: SigningOptions): () => KeyObject | undefined {
  if (opts.signingKey !== undefined) {
    const key = privateKeyFrom(opts.signingKey);
    return () => key;
  }
  const file = opts.signingSeedFile;
  if (!file) return () => undefined;
  privateKeyFrom(readKeyFile(file)); // fail at start-up, not at the first enqueue
  return () => {
    const seed = readKeyFile(file);
    try {
      return privateKeyFrom(seed);
    } finally {
      seed.fill(0);
    }
  };
}

/** What workers check signatures with, or undefined when they do not. */
export interface Verifier {
  key: KeyObject;
  /** Unsigned tasks are accepted (signed ones are still checked). */
  optional: boolean;
}

/** The verifier of a set of {@link VerificationOptions}. @throws ConfigError for an unreadable or invalid key */
export function verifierOf(opts: VerificationOptions): Verifier | undefined {
  const raw = opts.verificationKeyFile ? readKeyFile(opts.verificationKeyFile) : opts.verificationKey;
  return raw === undefined ? undefined : { key: publicKeyFrom(raw), optional: opts.signaturesOptional ?? false };
}

/** JSON with object keys sorted at every level and no spaces: the same text in every language. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString("base64"));
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
}

/**
 * The bytes a task signature covers: `jetq-task-v1` and a newline, then the canonical JSON of
 * `[id, type, queue, payload, deadline, max_tries, created, priority, dependencies]` (times as
 * RFC 3339 UTC with milliseconds, a missing deadline as null, byte payloads as base64 strings).
 * State, tries, results and errors are not covered: they change as the task runs.
 */
export function signedBytes(t: Task): Buffer {
  const fields = [
    t.id,
    t.type,
    t.queue,
    t.payload,
    t.deadline === undefined ? null : new Date(t.deadline).toISOString(),
    t.maxTries,
    new Date(t.createdAt).toISOString(),
    t.priority,
    t.dependencies ?? [],
  ];
  return Buffer.from(`jetq-task-v1\n${canonicalJson(fields)}`);
}

/** Signs a task (hex ed25519 signature). */
export function signTask(t: Task, key: KeyObject): string {
  return sign(null, signedBytes(t), key).toString("hex");
}

/** True when `t.signature` is a valid signature of the task by `key`. */
export function verifyTask(t: Task, key: KeyObject): boolean {
  if (!t.signature || !/^[0-9a-f]{128}$/.test(t.signature)) return false;
  return verify(null, signedBytes(t), key, Buffer.from(t.signature, "hex"));
}
