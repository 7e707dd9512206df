import { describe, expect, it } from 'vitest';
import { parseClientMessage, ServerMessage } from '../../../src/api/ws.ts';

describe('parseClientMessage', () => {
  it('accepts every client message type', () => {
    const pixels = Array.from({ length: 784 }, (_, i) => i % 256);
    for (const message of [
      { type: 'stroke', id: 'a', points: [{ x: 1, y: 2 }] },
      { type: 'submit', id: 1 },
      { type: 'clear' },
      { type: 'ping', id: 'p' },
      { type: 'predict', pixels },
      { type: 'predict', image: 'iVBORw0KGgo=' },
    ]) {
      const result = parseClientMessage(JSON.stringify(message));
      expect(result).toEqual({ ok: true, message });
    }
  });

  it('names the field and why, and keeps a valid id for correlation', () => {
    expect(parseClientMessage('{"type":"stroke","id":7,"points":[{"x":1,"y":"2"}]}')).toEqual({
      ok: false,
      id: 7,
      message: 'points[0].y: Invalid input: expected number, received string',
    });
    expect(parseClientMessage('{"type":"nope","id":"x"}')).toMatchObject({
      ok: false,
      id: 'x',
      message: 'type: expected one of stroke, submit, clear, predict, ping',
    });
    expect(parseClientMessage('{"type":"predict"}')).toMatchObject({
      ok: false,
      message: 'pixels: exactly one of pixels or image must be set',
    });
    expect(parseClientMessage('{"type":"predict","pixels":[1,2]}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^pixels: /),
    });
    expect(parseClientMessage('{"type":"stroke","points":[]}')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^points: /),
    });
  });

  it('rejects non-JSON, non-objects, huge numbers and bad ids', () => {
    expect(parseClientMessage('{')).toEqual({ ok: false, message: 'frame: not valid JSON' });
    expect(parseClientMessage('[1]')).toMatchObject({ ok: false, message: /^message: / });
    expect(parseClientMessage('null')).toMatchObject({ ok: false, message: /^message: / });
    expect(parseClientMessage('{"type":"stroke","points":[{"x":1e400,"y":0}]}')).toMatchObject({
      ok: false,
      message: /^points\[0\]\.x: /,
    });
    expect(parseClientMessage('{"type":"ping","id":{"a":1}}')).toMatchObject({ ok: false, message: /^id: / });
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(parseClientMessage(`{"type":"stroke","points":${deep}}`)).toMatchObject({ ok: false });
  });
});

describe('ServerMessage', () => {
  it('parses what the server sends', () => {
    expect(
      ServerMessage.parse({
        type: 'welcome',
        sessionId: 's',
        model: { name: 'm', sha256: 'x' },
        canvas: { width: 280, height: 280 },
      }).type,
    ).toBe('welcome');
    expect(ServerMessage.safeParse({ type: 'error', code: 'bogus', message: '' }).success).toBe(false);
  });
});
