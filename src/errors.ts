/**
 * The one catalogue of application errors. Codes are stable and stage-prefixed; clients and tests rely on
 * them. `status` is the HTTP status the server maps the error to.
 */
export const ERROR_CODES = {
  DATA_FILE_MISSING: 500,
  DATA_CHECKSUM_MISMATCH: 500,
  DATA_BAD_MAGIC: 500,
  DATA_TRUNCATED: 500,
  DATA_SHAPE_MISMATCH: 500,
  DATA_DOWNLOAD_FAILED: 502,
  CONFIG_INVALID: 500,
  MODEL_INVALID: 500,
  TRAIN_NON_FINITE_LOSS: 500,
  TRAIN_CHECKPOINT_MISSING: 500,
  TRAIN_CHECKPOINT_MISMATCH: 500,
  TRAIN_WORKER_FAILED: 500,
  TRAIN_INTERRUPTED: 500,
  TRAIN_OUTLIERS_MISSING: 500,
  BACKEND_UNAVAILABLE: 500,
  ONNX_GRAPH_INVALID: 500,
  ONNX_EXPORT_UNSUPPORTED: 500,
  REQUEST_EMPTY: 400,
  REQUEST_NO_IMAGE_FIELD: 400,
  REQUEST_TOO_MANY_FILES: 400,
  REQUEST_MALFORMED: 400,
  REQUEST_ABORTED: 400,
  REQUEST_BAD_TENSOR: 400,
  IMAGE_UNSUPPORTED_FORMAT: 415,
  IMAGE_TOO_LARGE: 413,
  IMAGE_UNDECODABLE: 422,
  IMAGE_TOO_MANY_PIXELS: 422,
  IMAGE_NO_DIGIT: 422,
  QUEUE_FULL: 503,
  SERVER_DRAINING: 503,
  REQUEST_TIMEOUT: 504,
  INFERENCE_FAILED: 500,
  INTERNAL_ERROR: 500,
  NOT_FOUND: 404,
  FILE_UNREADABLE: 400,
  FILE_LIST_INVALID: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code and the HTTP status it maps to. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code];
  }
}

/** True when `code` is in the catalogue: codes that cross a thread boundary are checked with this. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** True when `err` is an AppError with the given code (or any code when none is given). */
export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}
