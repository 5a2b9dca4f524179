/** The error every emulator throws to answer with a status in its service's error shape. */

/** An error answered in the service's error shape. `details` are service-specific fields. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
