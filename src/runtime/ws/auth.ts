import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerSubprotocolPrefix } from '../../api/ws.ts';

/**
 * The bearer token of a WebSocket upgrade request, from (in order) the `Authorization: Bearer`
 * header (Node clients), the `bearer.<base64url token>` subprotocol (browsers cannot set headers)
 * or the `?token=` query parameter (last resort: URLs end up in logs).
 */
export function upgradeToken(request: IncomingMessage, url: URL): string | undefined {
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader) return fromHeader;
  for (const protocol of (request.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const trimmed = protocol.trim();
    if (trimmed.startsWith(bearerSubprotocolPrefix)) {
      return Buffer.from(trimmed.slice(bearerSubprotocolPrefix.length), 'base64url').toString('utf8');
    }
  }
  return url.searchParams.get('token') ?? undefined;
}

/** The token of an `Authorization: Bearer <token>` header (REST and WebSocket alike). */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
}

/** Constant-time comparison against every accepted token (hashes first, so lengths never leak). */
export function tokenAccepted(token: string | undefined, accepted: readonly string[]): boolean {
  if (token === undefined) return false;
  const digest = sha256(token);
  let ok = false;
  for (const candidate of accepted) ok = timingSafeEqual(digest, sha256(candidate)) || ok;
  return ok;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();
