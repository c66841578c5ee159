// /ws/team: the session's team events in order (seq), typed tasks and run controls. Reconnects by itself
// with ?session=ID&after=lastSeq, so the server replays whatever the page missed while it was away.
import { Backoff } from "./backoff.js";

const SESSION_KEY = "research-team.session";
const PING_MS = 25000;

export class TeamSocket {
  /**
   * @param {import("./api.js").Api} api
   * @param {{onEvent: Function, onState: Function, log: Function}} handlers
   *   onState(state, detail): "connecting" | "open" | "reconnecting" | "offline"
   *   log(dir, name, data, kind)
   */
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.sessionId = sessionStorage.getItem(SESSION_KEY);
    this.lastSeq = null;
    this.ws = null;
    this.state = "connecting";
    this.backoff = new Backoff({ base: 400, max: 8000 });
    this.failures = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = false;
    this.started = false;
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.reconnectNow(); });
  }

  start() {
    this.started = true;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000, "page closed");
  }

  get open() { return this.state === "open" && this.ws?.readyState === WebSocket.OPEN; }

  /** Send a client message; false when not connected (the caller tells the person). */
  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    if (message.type !== "ping") this.handlers.log("sent", message.type, message, "team");
    return true;
  }

  reconnectNow() {
    if (!this.started || this.stopped || this.ws?.readyState === WebSocket.OPEN || this.ws?.readyState === WebSocket.CONNECTING) return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    const params = this.sessionId ? { session: this.sessionId, after: this.lastSeq ?? 0 } : {};
    const url = this.api.wsUrl("/ws/team", params);
    this.handlers.log("sent", "CONNECTING", { url, socket: "/ws/team" }, "connection");
    if (this.state !== "offline") this.setState(this.failures > 0 || this.lastSeq !== null ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.handlers.log("received", "CONNECTED", { socket: "/ws/team" }, "connection");
    ws.onmessage = (msg) => this.onMessage(msg);
    ws.onclose = (e) => this.onClose(ws, e);
  }

  onMessage(msg) {
    let event;
    try {
      event = JSON.parse(msg.data);
    } catch {
      this.handlers.log("received", "invalid frame", { text: String(msg.data).slice(0, 200) }, "team", true);
      return;
    }
    if (event.type === "pong") return;
    this.handlers.log("received", event.type, event, "team", event.type === "error");
    if (typeof event.seq === "number") this.lastSeq = Math.max(this.lastSeq ?? 0, event.seq);
    if (event.type === "system" && event.data?.event === "connected") {
      this.sessionId = event.data.session_id;
      sessionStorage.setItem(SESSION_KEY, this.sessionId);
      if (this.lastSeq === null) this.lastSeq = 0;
      this.failures = 0;
      this.backoff.reset();
      this.setState("open");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_MS);
    }
    this.handlers.onEvent(event);
  }

  onClose(ws, e) {
    if (ws !== this.ws) return;
    clearInterval(this.pinger);
    const closed = { socket: "/ws/team", code: e.code, reason: e.reason || undefined };
    this.handlers.log("received", "CLOSED", closed, "connection", e.code !== 1000);
    if (e.code === 1008) {
      // The server refused the session id (or the token): start a fresh session.
      this.sessionId = null;
      this.lastSeq = null;
      sessionStorage.removeItem(SESSION_KEY);
    }
    if (this.stopped) return;
    this.failures += 1;
    this.scheduleReconnect(e.code === 1013 ? 0 : undefined);
  }

  scheduleReconnect(delay) {
    const wait = delay ?? this.backoff.next();
    this.setState(this.failures >= 2 ? "offline" : "reconnecting", { retryInMs: wait });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  setState(state, detail = {}) {
    this.state = state;
    this.handlers.onState(state, detail);
  }
}
