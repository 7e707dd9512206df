/**
 * Constants of the `/ws` protocol without zod, so that the browser bundle of the demo page can use
 * them without pulling in the schema library; `./ws.ts` re-exports them with the schemas.
 */

/** Close codes the server uses, fixed so that clients can branch on them. */
export const CloseCode = {
  /** Normal close requested by either side. */
  normal: 1000,
  /** The server is shutting down (SIGTERM); reconnect to another replica. */
  goingAway: 1001,
  /** Policy violation: missing or wrong bearer token. */
  policy: 1008,
  /** A frame larger than the server's maximum payload. */
  tooBig: 1009,
  /** The server has no room for another session (max connections); retry later. */
  overloaded: 1013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The subprotocol the server selects; browsers send the bearer token as a second subprotocol. */
export const subprotocol = 'kinfer';
/** Prefix of the subprotocol carrying a base64url-encoded bearer token (browsers cannot set headers). */
export const bearerSubprotocolPrefix = 'bearer.';

/** Largest number of points in one stroke message. */
export const maxPointsPerStroke = 4096;
