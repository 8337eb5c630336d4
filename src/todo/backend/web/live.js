// Server-Sent Events over fetch(): EventSource cannot send the Authorization header.

const MAX_BACKOFF_MS = 30_000;
// The server sends a keep-alive comment every 15 s: silence for longer means a dead link.
const SILENCE_MS = 45_000;

/**
 * Parse an SSE byte stream into {event, data, id} objects (WHATWG "text/event-stream":
 * lines end in CRLF, LF or CR; a blank line dispatches; ":" lines are comments).
 */
export async function* parseEventStream(body, onActivity = () => {}) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { event: "message", data: [], id: null };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += value;
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        // A lone trailing CR may be the first half of a CRLF still in flight.
        if (!match || (match[0] === "\r" && match.index === buffer.length - 1)) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (event.data.length) yield { ...event, data: event.data.join("\n") };
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

/**
 * A self-reconnecting event stream. `onStatus` gets "connecting" | "live" | "reconnecting"
 * | "offline"; `onEvent` gets every parsed event. `token()` gives the current access
 * token; on 401 `refresh()` renews it (resolving true) or `onUnauthorized` stops the
 * stream. The server ends a stream when its token expires: it reconnects at once.
 */
export class LiveStream {
  #controller = null;
  #running = false;
  #wake = null;

  constructor({ url, token, refresh, onEvent, onStatus, onUnauthorized }) {
    Object.assign(this, { url, token, refresh, onEvent, onStatus, onUnauthorized });
    this.retryNow = this.retryNow.bind(this);
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    window.addEventListener("online", this.retryNow);
    this.#loop();
  }

  stop() {
    this.#running = false;
    window.removeEventListener("online", this.retryNow);
    this.#controller?.abort();
    this.#wake?.();
  }

  /** Skip the rest of the current backoff wait (e.g. when the network comes back). */
  retryNow() {
    this.#wake?.();
  }

  async #loop() {
    let failures = 0;
    while (this.#running) {
      this.onStatus(failures === 0 ? "connecting" : "reconnecting");
      const controller = new AbortController();
      this.#controller = controller;
      let watchdog;
      const alive = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
      };
      try {
        const response = await fetch(this.url, {
          headers: { Authorization: `Bearer ${this.token()}`, Accept: "text/event-stream" },
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 401 && (await this.refresh?.())) continue;
        if (response.status === 401) {
          this.#running = false;
          this.onStatus("offline");
          this.onUnauthorized?.();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        alive();
        let expired = false;
        for await (const event of parseEventStream(response.body, alive)) {
          if (event.event === "ready") {
            failures = 0;
            this.onStatus("live");
          }
          if (event.event === "expired") expired = true;
          else this.onEvent(event);
        }
        // The token ended, not the link: renew it and reconnect without a backoff.
        if (expired && (await this.refresh?.())) continue;
      } catch (err) {
        if (!this.#running) return;
        if (err?.name !== "AbortError") console.debug("live stream:", err?.message ?? err);
      } finally {
        clearTimeout(watchdog);
      }
      if (!this.#running) return;
      failures += 1;
      this.onStatus(navigator.onLine === false ? "offline" : "reconnecting");
      await this.#sleep(backoff(failures));
    }
  }

  #sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = null;
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** Exponential backoff with jitter: ~1 s, 2 s, 4 s ... capped at 30 s. */
function backoff(failures) {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 5));
  return base / 2 + Math.random() * (base / 2);
}
