// /ws/voice: microphone audio up, narrator audio down (binary PCM16 24 kHz), plus JSON: voice.state, captions,
// audio.start, playback.stop, team events, the mirrored realtime event log, errors.
// Opening it opens the narrator's realtime session on the server, so it is opened only when the person talks.
import { Backoff } from "./backoff.js";
import { showVoiceBackend } from "./voice_backend.js";

const PING_MS = 25000;

export class VoiceSocket {
  /**
   * @param {import("./api.js").Api} api
   * @param {{onMessage: Function, onAudio: Function, onState: Function, log: Function}} handlers
   *   onState(state, detail): "off" | "connecting" | "ready" | "reconnecting" | "error"
   */
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.ws = null;
    this.active = false;
    this.state = "off";
    this.sessionId = null;
    this.callId = null;
    this.captionsFromChannel = false;
    this.backoff = new Backoff({ base: 600, max: 8000 });
    this.timer = null;
    this.pinger = null;
    this.bytesSent = 0;
    this.bytesReceived = 0;
  }

  get ready() { return this.state === "ready" && this.ws?.readyState === WebSocket.OPEN; }

  /** With `callId`: follow that WebRTC call. No audio here; the service's events come from the call's data
   * channel, and so do the captions when `captionsFromChannel` (Realtime; GPT-Live's come from the narrator). */
  open(sessionId, callId = null, captionsFromChannel = true) {
    this.active = true;
    this.sessionId = sessionId;
    this.callId = callId;
    this.captionsFromChannel = Boolean(callId) && captionsFromChannel;
    this.connect();
  }

  close() {
    this.active = false;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) {
      this.ws.close(1000, "voice off");
      this.ws = null;
    }
    this.setState("off");
  }

  connect() {
    const url = this.api.wsUrl("/ws/voice", this.callId ? { call: this.callId } : { session: this.sessionId });
    this.handlers.log("sent", "CONNECTING", { url, socket: "/ws/voice" }, "connection");
    this.setState(this.backoff.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.handlers.log("received", "CONNECTED", { socket: "/ws/voice" }, "connection");
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.sendJson({ type: "ping" }), PING_MS);
    };
    ws.onmessage = (msg) => this.onMessage(msg);
    ws.onclose = (e) => this.onClose(ws, e);
  }

  sendJson(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    if (message.type !== "ping") this.handlers.log("sent", message.type, message, "voice");
    return true;
  }

  sendAudio(buffer) {
    if (!this.ready) return false;
    this.ws.send(buffer);
    this.bytesSent += buffer.byteLength;
    return true;
  }

  onMessage(msg) {
    if (msg.data instanceof ArrayBuffer) {
      this.bytesReceived += msg.data.byteLength;
      this.handlers.onAudio(msg.data);
      return;
    }
    let message;
    try {
      message = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (message.type === "pong") return;
    if ((this.captionsFromChannel && message.type === "caption")
      || (this.callId && message.type === "realtime.log" && message.dir === "received")) {
      return; // the data channel has these (the server no longer sends them on a call; an older one might)
    }
    if (message.type === "realtime.log") {
      const time = Date.parse(message.time);
      this.handlers.log(message.dir, message.name, message.data, "realtime", message.name === "error",
        Number.isFinite(time) ? new Date(time) : undefined);
    } else if (message.type !== "team") {
      const name = message.type === "caption" ? (message.final ? "caption" : "caption.delta") : message.type;
      this.handlers.log("received", name, message, "voice", message.type === "error" || message.state === "error");
    }
    if (message.type === "voice.state") {
      if (message.state === "ready") this.backoff.reset();
      if (message.backend) showVoiceBackend(message.backend);
      this.setState(message.state === "closed" ? "reconnecting" : message.state, { message: message.message });
    }
    this.handlers.onMessage(message);
  }

  onClose(ws, e) {
    if (ws !== this.ws) return;
    clearInterval(this.pinger);
    const closed = { socket: "/ws/voice", code: e.code, reason: e.reason || undefined };
    this.handlers.log("received", "CLOSED", closed, "connection", e.code !== 1000);
    this.ws = null;
    if (!this.active || this.state === "error") {
      if (this.state !== "error") this.setState("off");
      return;
    }
    const wait = this.backoff.next();
    this.setState("reconnecting", { retryInMs: wait, message: "Voice connection lost; reconnecting…" });
    this.timer = setTimeout(() => { if (this.active) this.connect(); }, wait);
  }

  setState(state, detail = {}) {
    this.state = state;
    this.handlers.onState(state, detail);
  }
}
