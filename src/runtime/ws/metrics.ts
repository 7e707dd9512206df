import { Counter, Gauge, type Registry } from 'prom-client';

export interface WsMetrics {
  message(type: string): void;
  error(code: string): void;
  closed(code: number): void;
}

const none: WsMetrics = { message() {}, error() {}, closed() {} };

/** `/ws` metrics in the runtime's registry: open sessions, messages by type, errors and close codes. */
export function wsMetrics(registry: Registry | undefined, sessions: () => number): WsMetrics {
  if (!registry) return none;
  new Gauge({
    name: 'kinfer_ws_sessions',
    help: 'Open drawing sessions on /ws',
    registers: [registry],
    collect() {
      this.set(sessions());
    },
  });
  const messages = new Counter({
    name: 'kinfer_ws_messages_total',
    help: 'Client messages on /ws by type ("invalid" for frames that are not a valid message)',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'kinfer_ws_errors_total',
    help: 'Error messages sent on /ws by code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const closes = new Counter({
    name: 'kinfer_ws_closes_total',
    help: 'Closed /ws connections by close code (1008 auth, 1009 too big, 1013 full, 1001 shutdown, 1006 dropped)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  return {
    message: (type) => messages.inc({ type }),
    error: (code) => errors.inc({ code }),
    closed: (code) => closes.inc({ code: String(code) }),
  };
}
