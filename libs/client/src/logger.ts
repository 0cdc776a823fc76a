/**
 * The logging the client library needs: pino's calling convention (an object
 * of fields, then a message), so a component passes its pino logger (or a
 * child of it) and the library's lines carry the component's fields.
 */
export interface Logger {
  debug?(o: object, msg: string): void;
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

const noop = () => {};

/** Discards everything (the default). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
