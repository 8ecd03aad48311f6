// One catalogue of errors: each class has a stable code, and the code maps to an HTTP status here
// and nowhere else (see statusFor).

/** Stable machine-readable error codes, as sent in `{ error: { code } }`. */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'config_invalid'
  | 'profile_invalid'
  | 'template_invalid'
  | 'iso_invalid'
  | 'unavailable'
  | 'power_failed'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  config_invalid: 500,
  profile_invalid: 422,
  template_invalid: 500,
  iso_invalid: 422,
  unavailable: 503,
  power_failed: 502,
  internal: 500,
};

/** Base class of every error kickstand raises on purpose; carries a stable code. */
export class KickstandError extends Error {
  readonly code: ErrorCode;
  /** Where the bad value sits, e.g. `systems.macs[1]` or `profiles/x.yaml: disks.hda.size_mib`. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.field = options?.field;
    this.name = new.target.name;
  }
}

/** A request or command carried a value that cannot be used; names the field. */
export class BadRequestError extends KickstandError {
  constructor(message: string, field?: string) {
    super('bad_request', message, { field });
  }
}

/** Credentials missing or wrong. */
export class UnauthorizedError extends KickstandError {
  constructor(message = 'missing or invalid bearer token') {
    super('unauthorized', message);
  }
}

/** The request is understood but refused to this caller (e.g. it does not come from the machine it names). */
export class ForbiddenError extends KickstandError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** The caller or the thing it reports to has used up a limit; retrying later may work. */
export class TooManyRequestsError extends KickstandError {
  constructor(message: string) {
    super('too_many_requests', message);
  }
}

/** The thing asked for does not exist (or must not be revealed). */
export class NotFoundError extends KickstandError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** The request clashes with existing state (duplicate name or MAC, ambiguous match). */
export class ConflictError extends KickstandError {
  constructor(message: string, field?: string) {
    super('conflict', message, { field });
  }
}

/** A body or upload is larger than allowed. */
export class PayloadTooLargeError extends KickstandError {
  constructor(message: string) {
    super('payload_too_large', message);
  }
}

/** The configuration file or environment is invalid; names the file and key. */
export class ConfigError extends KickstandError {
  constructor(message: string, field?: string) {
    super('config_invalid', message, { field });
  }
}

/** A profile or distro YAML file is invalid; names the file and key. */
export class ProfileError extends KickstandError {
  constructor(message: string, field?: string) {
    super('profile_invalid', message, { field });
  }
}

/** A template failed to compile or render; names the file and line where known. */
export class TemplateError extends KickstandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('template_invalid', message, options);
  }
}

/** An ISO image is malformed or unusable. */
export class IsoError extends KickstandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('iso_invalid', message, options);
  }
}

/** The store cannot be used: unreachable, read-only, or holding a schema this kickstand does not know. */
export class StoreError extends KickstandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/** A power driver (ipmitool, virsh, xl) failed; the message carries the tool's own words. */
export class PowerError extends KickstandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('power_failed', message, options);
  }
}

/** Returns the HTTP status for an error code. */
export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}

/** Returns the JSON error body and status for any thrown value; unknown errors become 500. */
export function toErrorBody(err: unknown): { status: number; body: { error: { code: ErrorCode; message: string; field?: string } } } {
  if (err instanceof KickstandError) {
    const error: { code: ErrorCode; message: string; field?: string } = { code: err.code, message: err.message };
    if (err.field !== undefined) error.field = err.field;
    return { status: statusFor(err.code), body: { error } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}
