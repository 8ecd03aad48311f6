// Writing responses on the raw Node path and mapping errors to JSON in one place (express's error
// handler calls sendError too).
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { BadRequestError, PayloadTooLargeError, toErrorBody } from '../errors.ts';

/** Returns body-parser's errors (too large, malformed, too many fields) as kickstand errors; anything else unchanged. */
export function fromBodyParser(err: unknown): unknown {
  const e = err as { type?: string; message?: string; limit?: number } | null;
  switch (e?.type) {
    case 'entity.too.large':
      return new PayloadTooLargeError(`request body over ${e.limit ?? 'the limit of'} bytes`);
    case 'parameters.too.many':
      return new PayloadTooLargeError('request body has too many fields');
    case 'entity.parse.failed':
      return new BadRequestError(`request body is not valid JSON: ${e.message}`, '(body)');
    case 'charset.unsupported':
    case 'encoding.unsupported':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new BadRequestError(`request body cannot be read: ${e.message}`, '(body)');
    default:
      return err;
  }
}

/** Sends a JSON body with a status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Sends a text body (kickstarts, scripts, boot menus) with a status. */
export function sendText(res: ServerResponse, status: number, body: string | Buffer, contentType = 'text/plain; charset=utf-8', head = false): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

/** Sends the JSON error for any thrown value; logs unexpected errors with their stack. */
export function sendError(res: ServerResponse, err: unknown, log: Logger, context: Record<string, unknown> = {}): void {
  const { status, body } = toErrorBody(err);
  if (status >= 500) log.error({ ...context, err }, 'request failed');
  else log.debug({ ...context, code: body.error.code, msg: body.error.message }, 'request refused');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}
