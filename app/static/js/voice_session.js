// A voice session: the microphone, the narrator's voice and /ws/voice, started and stopped together, over
// one of two transports (the server's /voice/config says which it offers):
// - "webrtc": the microphone and the narrator's voice go between the browser and the voice service directly
//   (webrtc_call.js); /ws/voice?call=ID carries the narrator's state, team events, typed text and buttons;
//   captions and the service's events come from the call's data channel; barge-in is the service's own.
// - "relay": PCM16 frames over /ws/voice both ways. Mic frames captured before the narrator is ready are kept
//   (up to 2 s) and sent once it is, so the first words are not lost. Barge-in: on playback.stop the queued
//   audio is dropped at once and the played milliseconds of the interrupted item are reported back.
// When WebRTC cannot start (no WebRTC, refused, no connection) the session says so and uses the relay.
import { audioContext } from "./audio_context.js";
import { AudioCapture } from "./audio_capture.js";
import { AudioPlayback } from "./audio_playback.js";
import { showVoiceTransport } from "./voice_backend.js";
import { VoiceSocket } from "./voice_socket.js";
import { WebRtcCall } from "./webrtc_call.js";
import { captionFrom } from "./webrtc_events.js";

const PREROLL_FRAMES = 50; // 50 x 40 ms

export class VoiceSession {
  /**
   * @param {import("./api.js").Api} api
   * @param {{log: Function, onState: Function, onMessage: Function, onLevel: Function, onSpeaking: Function, onBargeIn: Function}} handlers
   */
  constructor(api, handlers) {
    this.handlers = handlers;
    this.ctx = null;
    this.muted = false;
    this.preroll = [];
    this.active = false;
    this.api = api;
    this.transport = null; // "webrtc" | "relay" once started
    this.backend = null; // "realtime" | "live", from /voice/config
    this.stats = { micFramesSent: 0, bytesSent: 0, bytesReceived: 0, bytesPlayed: 0, bufferedMs: 0, underruns: 0,
      bargeIns: 0, lastPlayedMs: null, bargeInStopMs: null, playing: false, transport: null, fallback: null,
      channelEvents: 0 };
    this.capture = new AudioCapture({ onFrame: (pcm, level) => this.onFrame(pcm, level) });
    this.playback = new AudioPlayback({
      onStats: (s) => Object.assign(this.stats,
        { bytesPlayed: s.playedBytes, bufferedMs: s.bufferedMs, underruns: s.underruns, playing: s.playing }),
      onPlaying: (playing) => this.handlers.onSpeaking(playing),
      onEnded: (itemId, playedMs) => this.socket.sendJson({ type: "playback", item_id: itemId, played_ms: playedMs }),
    });
    this.socket = new VoiceSocket(api, {
      log: handlers.log,
      onState: (state, detail) => this.onSocketState(state, detail),
      onAudio: (buffer) => {
        this.stats.bytesReceived += buffer.byteLength;
        this.playback.push(buffer);
      },
      onMessage: (message) => this.onMessage(message),
    });
    this.call = new WebRtcCall(api, {
      log: handlers.log,
      onEvent: (event) => this.onChannelEvent(event),
      onSpeaking: (speaking) => {
        this.stats.playing = speaking;
        this.handlers.onSpeaking(speaking);
      },
      onHeard: (bytes) => { this.stats.bytesPlayed += bytes; },
      onFailed: (why) => this.onCallFailed(why),
    });
  }

  get ready() { return this.socket.ready; }
  get state() { return this.socket.state; }

  /** Throws MicError (microphone) or an Error with kind "unsupported" (no AudioWorklet). */
  async start(sessionId) {
    this.active = true;
    this.handlers.onState("connecting", {});
    try {
      this.ctx = await audioContext();
      await this.playback.init(this.ctx);
      if (!this.active) return; // pressed again while starting
      const mic = await this.capture.start(this.ctx);
      if (!this.active) {
        this.capture.stop();
        return;
      }
      this.handlers.log("sent", "microphone.started", mic, "voice");
    } catch (err) {
      this.stop();
      throw err;
    }
    if (await this.wantsWebRtc()) {
      try {
        const call = await this.call.start(this.capture.stream, sessionId);
        if (!this.active) return;
        this.useTransport("webrtc");
        // Realtime captions come from the data channel; GPT-Live's from the narrator (it knows the turns).
        this.socket.open(call.sessionId, call.callId, this.backend !== "live");
        return;
      } catch (err) {
        this.call.stop();
        if (!this.active) return;
        this.fallBack(err.message || String(err));
      }
    }
    this.useTransport("relay");
    this.socket.open(sessionId);
  }

  async wantsWebRtc() {
    try {
      const config = await this.api.get("/voice/config", { timeoutMs: 5000 });
      this.backend = config?.backend ?? null;
      return config?.transport === "webrtc" && typeof window.RTCPeerConnection === "function";
    } catch {
      return false; // an older server without /voice/config: the relay
    }
  }

  useTransport(transport) {
    this.transport = transport;
    if (transport === "webrtc") this.preroll = []; // the call's own track carried those words
    this.stats.transport = transport;
    showVoiceTransport(transport, this.stats.fallback);
    this.handlers.log("received", "voice.transport", { transport, fallback: this.stats.fallback }, "voice");
  }

  fallBack(why) {
    this.stats.fallback = why;
    this.handlers.log("received", "webrtc.unavailable", { reason: why }, "voice", true);
    this.handlers.onMessage({ type: "error", code: "webrtc_fallback",
      message: "The direct line to the voice service did not open, so your voice goes through this server " +
        "instead. You can talk as usual; answers may come a moment later." });
  }

  onCallFailed(why) {
    if (!this.active || this.transport !== "webrtc") return;
    this.handlers.log("received", "webrtc.failed", { reason: why }, "voice", true);
    this.handlers.onState("error", { message: `The voice call dropped (${why}). Press the button to talk again.` });
    this.stop();
  }

  onChannelEvent(event) {
    this.stats.channelEvents += 1;
    this.handlers.log("received", event.type, event, "realtime", event.type === "error");
    const caption = this.backend === "live" ? null : captionFrom(event);
    if (caption) this.handlers.onMessage(caption);
  }

  stop() {
    const wasActive = this.active || this.socket.state !== "off";
    this.active = false;
    this.preroll = [];
    this.capture.stop();
    this.playback.stop();
    this.call.stop();
    this.socket.close();
    this.handlers.onLevel(0);
    this.handlers.onSpeaking(false);
    if (wasActive) this.handlers.log("sent", "microphone.stopped", {}, "voice");
    this.ctx?.suspend().catch(() => {});
  }

  setMuted(muted) {
    this.muted = muted;
    this.capture.setMuted(muted);
    if (muted) this.preroll = [];
  }

  sendText(text) { return this.socket.sendJson({ type: "text", text }); }

  control(action) { return this.ready && this.socket.sendJson({ type: `team.${action}` }); }

  onFrame(pcm, level) {
    this.handlers.onLevel(level);
    if (this.muted || !this.active || this.transport === "webrtc") return; // on WebRTC the track carries it
    if (!this.socket.ready) {
      this.preroll.push(pcm);
      if (this.preroll.length > PREROLL_FRAMES) this.preroll.shift();
      return;
    }
    for (const frame of this.preroll.splice(0)) this.sendFrame(frame);
    this.sendFrame(pcm);
  }

  sendFrame(pcm) {
    if (this.socket.sendAudio(pcm)) {
      this.stats.micFramesSent += 1;
      this.stats.bytesSent += pcm.byteLength;
    }
  }

  onSocketState(state, detail) {
    if (state === "ready" && this.preroll.length && this.transport === "relay") {
      for (const frame of this.preroll.splice(0)) this.sendFrame(frame);
    }
    this.handlers.onState(state, detail);
  }

  async onMessage(message) {
    switch (message.type) {
      case "audio.start":
        this.playback.startItem(message.item_id);
        break;
      case "caption":
        if (message.role === "assistant" && message.final) this.playback.endItem(message.item_id);
        break;
      case "playback.stop": {
        const asked = performance.now();
        const cut = await this.playback.stop();
        this.stats.bargeIns += 1;
        this.stats.lastPlayedMs = cut.playedMs;
        this.stats.bargeInStopMs = Math.round(performance.now() - asked); // until the worklet dropped its queue
        if (cut.itemId) this.socket.sendJson({ type: "playback", item_id: cut.itemId, played_ms: cut.playedMs });
        this.handlers.onBargeIn(cut);
        break;
      }
      default:
        break;
    }
    this.handlers.onMessage(message);
  }
}
