/**
 * The one way the codebase turns a thrown value into a log field or a status message:
 * `Name: message`, with a fixed error code (ECONNREFUSED, api_error) in place of the name and the
 * HTTP status after it when the error carries them, and the cause appended in brackets (fetch's
 * "fetch failed" says nothing without it).
 */
export function describeError(error: unknown, depth = 0): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  const label =
    (typeof code === 'string' && code ? code : error.name) +
    (typeof statusCode === 'number' ? ` ${statusCode}` : '');
  const text = `${label}: ${error.message}`;
  const { cause } = error;
  if (cause === undefined || cause === null || depth >= 3) return text;
  return `${text} (${describeError(cause, depth + 1)})`;
}
