/** Client errors as classes with fixed codes that callers branch on. */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** No answer to a request within its timeout. */
export class RequestTimeoutError extends ClientError {
  constructor(what: string, ms: number) {
    super('timeout', `${what}: no answer within ${ms} ms`);
  }
}

/** The connection closed (or was not open) before the answer arrived. */
export class ConnectionClosedError extends ClientError {
  constructor(
    readonly closeCode?: number,
    reason = '',
  ) {
    super(
      'connection_closed',
      `connection closed${closeCode ? ` (${closeCode}${reason ? ` ${reason}` : ''})` : ''}`,
    );
  }
}

/** The server answered a WebSocket request with `{"type":"error"}`; `code` is the server's code. */
export class ServerError extends ClientError {}

/** A REST call answered with a non-2xx status; `body` is the server's `{"error": ...}` when present. */
export class HttpError extends ClientError {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const detail =
      typeof body === 'object' && body !== null && 'error' in body
        ? String((body as { error: unknown }).error)
        : '';
    super('http_error', `HTTP ${status}${detail ? `: ${detail}` : ''}`);
  }
}
