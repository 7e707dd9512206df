import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Timeouts } from './timeouts.ts';

/** Every method a route of the runtime takes (HEAD comes with every GET). */
export const servedMethods = ['GET', 'HEAD', 'POST'];

/** An error fastify answers with its `statusCode` (through the app's `{"error"}` handler). */
export const clientError = (statusCode: number, message: string): Error & { statusCode: number } =>
  Object.assign(new Error(message), { statusCode });

/**
 * Node's own answers to requests that never reach fastify (a malformed request line, headers too
 * large, a method Node does not know, a request not received in time), in the `{"error"}` shape
 * naming what was wrong, then the connection is closed. Replaces fastify's default handler.
 */
export function clientErrorHandler(timeouts: Timeouts) {
  return (error: Error & { code?: string }, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, message, extra] = describeClientError(error.code, timeouts);
    if (socket.writable) {
      const body = JSON.stringify({ error: message });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${extra}Content-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

function describeClientError(code: string | undefined, timeouts: Timeouts): [number, string, string] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        408,
        `request: not received in time (headers within headersTimeoutMs ${timeouts.headersTimeoutMs} ms, the whole request within requestTimeoutMs ${timeouts.requestTimeoutMs} ms)`,
        '',
      ];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers: larger than the 16 KiB the server reads', ''];
    case 'HPE_INVALID_METHOD':
      return [
        405,
        `method: not an HTTP method this server serves (allowed: ${servedMethods.join(', ')})`,
        `Allow: ${servedMethods.join(', ')}\r\n`,
      ];
    default:
      return [400, `request: malformed HTTP (${code ?? 'unknown parse error'})`, ''];
  }
}

/**
 * fastify's router errors before any route runs: a URL it cannot decode (400) and a path
 * parameter over its length limit (414), in the `{"error"}` shape.
 */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return reply.code(414).send({ error: 'url: a path segment is longer than the 100 characters served' });
  }
  if (error.code === 'FST_ERR_BAD_URL') {
    return reply.code(400).send({ error: 'url: not a valid URL (bad percent-encoding?)' });
  }
  return reply.code(error.statusCode ?? 400).send({ error: `request: ${error.message}` });
}
