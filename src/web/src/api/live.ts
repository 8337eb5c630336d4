// Server-Sent Events over fetch(): EventSource cannot send the Authorization header.
import { authorizationHeader, refresh } from "./session";

const MAX_BACKOFF_MS = 30_000;
// The server sends a keep-alive comment every 15 s: silence for longer means a dead link.
const SILENCE_MS = 45_000;

export interface StreamEvent {
  event: string;
  data: string;
  id: string | null;
}

export type LiveState = "connecting" | "live" | "reconnecting" | "offline";

/**
 * Parse an SSE byte stream (WHATWG "text/event-stream": lines end in CRLF, LF or CR; a
 * blank line dispatches; ":" lines are comments).
 */
export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
  onActivity: () => void = () => {},
): AsyncGenerator<StreamEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = { event: "message", data: [] as string[], id: null as string | null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        // A lone trailing CR may be the first half of a CRLF still in flight.
        if (!match || (match[0] === "\r" && match.index === buffer.length - 1)) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (event.data.length) yield { event: event.event, id: event.id, data: event.data.join("\n") };
          event = { event: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let val = colon === -1 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event.event = val;
        else if (field === "data") event.data.push(val);
        else if (field === "id") event.id = val;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export interface LiveStreamOptions {
  url: string;
  onEvent: (event: StreamEvent) => void;
  onState: (state: LiveState) => void;
  onUnauthorized: () => void;
}

/** A self-reconnecting event stream with exponential backoff. */
export class LiveStream {
  private controller: AbortController | null = null;
  private running = false;
  private wake: (() => void) | null = null;
  private readonly options: LiveStreamOptions;

  constructor(options: LiveStreamOptions) {
    this.options = options;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener("online", this.retryNow);
    void this.loop();
  }

  stop(): void {
    this.running = false;
    window.removeEventListener("online", this.retryNow);
    this.controller?.abort();
    this.wake?.();
  }

  /** Skip the rest of the current backoff wait (e.g. when the network comes back). */
  readonly retryNow = (): void => {
    this.wake?.();
  };

  private async loop(): Promise<void> {
    let failures = 0;
    // One renewal per refusal: a token refused right after renewing ends the stream.
    let renewed = false;
    while (this.running) {
      this.options.onState(failures === 0 ? "connecting" : "reconnecting");
      const controller = new AbortController();
      this.controller = controller;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const alive = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
      };
      try {
        const response = await fetch(this.options.url, {
          headers: { ...authorizationHeader(), Accept: "text/event-stream" },
          cache: "no-store",
          signal: controller.signal,
        });
        // The access token expired between streams: renew it and connect again at once.
        if (response.status === 401 && !renewed && (await refresh())) {
          renewed = true;
          continue;
        }
        if (response.status === 401) {
          this.running = false;
          this.options.onState("offline");
          this.options.onUnauthorized();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        alive();
        let expired = false;
        for await (const event of parseEventStream(response.body, alive)) {
          if (event.event === "ready") {
            failures = 0;
            renewed = false;
            this.options.onState("live");
          }
          // The server ends a stream when its token expires or is revoked.
          if (event.event === "expired") {
            expired = true;
            break;
          }
          this.options.onEvent(event);
        }
        if (expired) {
          controller.abort();
          continue;
        }
      } catch {
        // A dropped or refused connection: the loop below waits and reconnects.
      } finally {
        clearTimeout(watchdog);
      }
      if (!this.running) return;
      failures += 1;
      this.options.onState(navigator.onLine === false ? "offline" : "reconnecting");
      await this.sleep(backoff(failures));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

/** Exponential backoff with jitter: about 1 s, 2 s, 4 s ... capped at 30 s. */
export function backoff(failures: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 5));
  return base / 2 + random() * (base / 2);
}
