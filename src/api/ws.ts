import { z } from 'zod';

/**
 * Wire schemas of the drawing-session WebSocket `/ws` (design.md, "WebSocket /ws"). Every frame is a
 * JSON text frame; a client message may carry an `id`, echoed by every answer to it. The runtime
 * validates client frames with these schemas and the client validates server frames with them.
 */

export {
  bearerSubprotocolPrefix,
  CloseCode,
  maxPointsPerStroke,
  subprotocol,
} from './ws-constants.ts';

import { maxPointsPerStroke } from './ws-constants.ts';

/** Correlation id of a client message: a short string or a finite number, echoed verbatim. */
export const MessageId = z.union([z.string().max(128), z.number().finite()]);
export type MessageId = z.infer<typeof MessageId>;

/** Canvas coordinates are bounded so that a hostile client cannot make the rasteriser do silly work. */
const coordinate = z.number().min(-100_000).max(100_000);
export const Point = z.object({ x: coordinate, y: coordinate });
export type Point = z.infer<typeof Point>;

export const StrokeMessage = z.object({
  type: z.literal('stroke'),
  id: MessageId.optional(),
  points: z.array(Point).min(1).max(maxPointsPerStroke),
});
export const SubmitMessage = z.object({ type: z.literal('submit'), id: MessageId.optional() });
export const ClearMessage = z.object({ type: z.literal('clear'), id: MessageId.optional() });
export const PingMessage = z.object({ type: z.literal('ping'), id: MessageId.optional() });

/**
 * 784 pixels, row-major 28x28, 0..255 or 0..1 (as `POST /v1/predict`), as an array or a
 * Float64Array (src/runtime/http/json-parse.ts). Checked in one loop: the
 * element-wise `z.array(z.number().min(0).max(255))` costs ~150 us per message, this ~6 us.
 */
export const Pixels = z.unknown().superRefine((value, ctx) => {
  // A Float64Array holds the same numbers: the runtime's JSON parser reads /v1/predict pixels so.
  if (!Array.isArray(value) && !(value instanceof Float64Array)) {
    ctx.addIssue({ code: 'custom', message: 'expected an array of 784 numbers' });
    return;
  }
  if (value.length !== 784) {
    ctx.addIssue({ code: 'custom', message: `expected 784 values (28x28), got ${value.length}` });
    return;
  }
  for (let i = 0; i < 784; i++) {
    const pixel = value[i];
    if (typeof pixel !== 'number' || !(pixel >= 0 && pixel <= 255)) {
      ctx.addIssue({ code: 'custom', path: [i], message: 'expected a number in 0..255' });
      return;
    }
  }
}) as unknown as z.ZodType<number[]>;
/** A base64 PNG of any size (a `data:image/png;base64,` prefix is accepted); preprocessed like a drawing. */
export const Base64Png = z
  .string()
  .min(1)
  .regex(/^(data:image\/png;base64,)?[A-Za-z0-9+/]+={0,2}$/, 'expected base64 PNG data');

export const PredictMessage = z
  .object({
    type: z.literal('predict'),
    id: MessageId.optional(),
    pixels: Pixels.optional(),
    image: Base64Png.optional(),
  })
  .refine((message) => (message.pixels === undefined) !== (message.image === undefined), {
    message: 'exactly one of pixels or image must be set',
    path: ['pixels'],
  });

export const ClientMessage = z.discriminatedUnion('type', [
  StrokeMessage,
  SubmitMessage,
  ClearMessage,
  PredictMessage,
  PingMessage,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export type StrokeMessage = z.infer<typeof StrokeMessage>;
export type PredictMessage = z.infer<typeof PredictMessage>;
export const clientMessageTypes = ['stroke', 'submit', 'clear', 'predict', 'ping'] as const;

export const ModelInfo = z.object({ name: z.string(), sha256: z.string() });
export type ModelInfo = z.infer<typeof ModelInfo>;

export const WelcomeMessage = z.object({
  type: z.literal('welcome'),
  sessionId: z.string(),
  model: ModelInfo,
  canvas: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }),
});
export type WelcomeMessage = z.infer<typeof WelcomeMessage>;

export const PredictionMessage = z.object({
  type: z.literal('prediction'),
  id: MessageId.optional(),
  prediction: z.number().int().min(0).max(9),
  confidence: z.number().min(0).max(1),
  probabilities: z.array(z.number()).length(10),
  latencyMs: z.number().min(0),
  /** True for the throttled predictions sent while drawing (not an answer to submit/predict). */
  live: z.boolean().optional(),
});
export type PredictionMessage = z.infer<typeof PredictionMessage>;

export const ClearedMessage = z.object({ type: z.literal('cleared'), id: MessageId.optional() });
export const PongMessage = z.object({ type: z.literal('pong'), id: MessageId.optional() });

/** Error codes of an `error` message, fixed so that clients can branch on them. */
export const wsErrorCodes = [
  /** The frame is not a valid client message; `message` names the field and why. */
  'invalid_message',
  /** Too many messages per second on this connection; the message was dropped. */
  'rate_limited',
  /** The session's canvas holds the maximum number of points; `clear` first. */
  'canvas_full',
  /** The PNG could not be decoded, or decodes to more pixels than the server's maxImagePixels. */
  'invalid_image',
  /** Over a documented limit of the server; `message` names the setting. */
  'too_large',
  /** The batcher's queue is full; retry shortly. */
  'overloaded',
  /** The model is not loaded and warmed yet. */
  'not_ready',
  /** The server is shutting down and takes no new predictions; reconnect to another replica. */
  'shutting_down',
  /** Submit on an empty canvas. */
  'empty_canvas',
  /** Anything else; details are in the server log, never in the message. */
  'internal',
] as const;
export const WsErrorCode = z.enum(wsErrorCodes);
export type WsErrorCode = z.infer<typeof WsErrorCode>;

export const ErrorMessage = z.object({
  type: z.literal('error'),
  id: MessageId.optional(),
  code: WsErrorCode,
  message: z.string(),
});
export type ErrorMessage = z.infer<typeof ErrorMessage>;

export const ServerMessage = z.discriminatedUnion('type', [
  WelcomeMessage,
  PredictionMessage,
  ClearedMessage,
  PongMessage,
  ErrorMessage,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** `points[3].x: expected number` from a zod issue list: the field first, then why. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => {
      const path = issue.path
        .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
        .join('')
        .replace(/^\./, '');
      return `${path || 'message'}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses one client frame's text. Returns the message or an error naming the field. */
export function parseClientMessage(
  text: string,
): { ok: true; message: ClientMessage } | { ok: false; id?: MessageId; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame: not valid JSON' };
  }
  const id = echoableId(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'message: expected a JSON object with a "type"' };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !(clientMessageTypes as readonly string[]).includes(type)) {
    return {
      ok: false,
      ...(id === undefined ? {} : { id }),
      message: `type: expected one of ${clientMessageTypes.join(', ')}`,
    };
  }
  const result = ClientMessage.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  return { ok: false, ...(id === undefined ? {} : { id }), message: describeIssues(result.error.issues) };
}

/** The `id` of a malformed message, when it is itself valid, so the error can still be correlated. */
function echoableId(value: unknown): MessageId | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const parsed = MessageId.safeParse((value as { id?: unknown }).id);
  return parsed.success ? parsed.data : undefined;
}
