// A WebRTC voice call: the microphone track goes straight to the voice service and the narrator's voice comes
// back as a remote track, played by the voice card's <audio> element. Our server only creates the call with
// its API key (POST /voice/calls with our SDP offer; the answer comes back) and runs the narrator on the
// call's sideband. The service's events arrive on the "oai-events" data channel (captions, speaking, log).
const CONNECT_TIMEOUT_MS = 10000;
const LEVEL_EVERY_MS = 100;
const HEARD_RMS = 0.01; // remote audio louder than this counts as speech heard
const PCM16_BYTES_PER_MS = 48; // heard audio is reported in PCM16 24 kHz bytes, like the relay's playback

export class WebRtcUnavailable extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status; // the server's HTTP status when it refused the call (409: relay only, 503: no model)
  }
}

export class WebRtcCall {
  /**
   * @param {import("./api.js").Api} api
   * @param {{log: Function, onEvent: Function, onSpeaking: Function, onHeard: Function, onFailed: Function}} handlers
   */
  constructor(api, handlers) {
    this.api = api;
    this.handlers = handlers;
    this.pc = null;
    this.channel = null;
    this.callId = null;
    this.sessionId = null;
    this.meter = null;
    this.speaking = false;
  }

  /** Start the call with the microphone `stream`; resolves with {callId, sessionId} once audio can flow. */
  async start(stream, sessionId) {
    if (!window.RTCPeerConnection) throw new WebRtcUnavailable("This browser has no WebRTC.");
    const pc = new RTCPeerConnection();
    this.pc = pc;
    for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
    this.channel = pc.createDataChannel("oai-events");
    this.channel.onmessage = (e) => this.onChannelMessage(e.data);
    pc.ontrack = (e) => this.onRemoteTrack(e);
    pc.onconnectionstatechange = () => {
      if (pc === this.pc && (pc.connectionState === "failed" || pc.connectionState === "closed")) {
        this.handlers.onFailed(`WebRTC connection ${pc.connectionState}`);
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await this.post(sessionId, pc.localDescription.sdp);
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    await this.connected();
    return { callId: this.callId, sessionId: this.sessionId };
  }

  async post(sessionId, sdp) {
    const path = `/voice/calls${sessionId ? `?session=${encodeURIComponent(sessionId)}` : ""}`;
    const headers = { "Content-Type": "application/sdp", Accept: "application/sdp" };
    if (this.api.token) headers.Authorization = `Bearer ${this.api.token}`;
    this.api.hooks.onRequest?.("POST", path);
    let response;
    try {
      response = await fetch(path, { method: "POST", headers, body: sdp, cache: "no-store" });
    } catch {
      this.api.hooks.onResponse?.("POST", path, 0, { error: "unreachable" });
      throw new WebRtcUnavailable("The server could not be reached.");
    }
    const text = await response.text();
    this.callId = response.headers.get("X-Call-Id");
    this.sessionId = response.headers.get("X-Session-Id") || sessionId;
    this.api.hooks.onResponse?.("POST", path, response.status,
      response.ok ? { call_id: this.callId, session_id: this.sessionId, sdp: `${text.length} characters` } : safeJson(text));
    if (!response.ok) {
      const detail = safeJson(text)?.detail;
      throw new WebRtcUnavailable(typeof detail === "string" ? detail : `HTTP ${response.status}`, response.status);
    }
    return text;
  }

  connected() {
    const pc = this.pc;
    const channel = this.channel;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WebRtcUnavailable("WebRTC did not connect in time.")), CONNECT_TIMEOUT_MS);
      const check = () => {
        if (pc.connectionState === "connected" && channel.readyState === "open") {
          clearTimeout(timer);
          resolve();
        } else if (pc.connectionState === "failed" || pc.connectionState === "closed") {
          clearTimeout(timer);
          reject(new WebRtcUnavailable(`WebRTC connection ${pc.connectionState}.`));
        } else {
          setTimeout(check, 50);
        }
      };
      check();
    });
  }

  onChannelMessage(data) {
    let event;
    try { event = JSON.parse(data); } catch { return; }
    if (event && typeof event.type === "string") this.handlers.onEvent(event);
  }

  onRemoteTrack(e) {
    const stream = e.streams[0] ?? new MediaStream([e.track]);
    const audio = document.getElementById("voice-remote-audio");
    if (audio) {
      audio.srcObject = stream;
      audio.play().catch((err) => this.handlers.log("received", "audio.play_failed", { error: err.name }, "voice", true));
    }
    this.meter?.stop();
    this.meter = new RemoteMeter(this.pc, (speaking, heardMs) => {
      if (speaking !== this.speaking) {
        this.speaking = speaking;
        this.handlers.onSpeaking(speaking);
      }
      if (heardMs) this.handlers.onHeard(heardMs * PCM16_BYTES_PER_MS);
    });
  }

  /** Typed events from the page to the service go through our server instead (one response at a time). */
  stop() {
    this.meter?.stop();
    this.meter = null;
    const pc = this.pc;
    this.pc = null;
    this.channel = null;
    pc?.close();
    const audio = document.getElementById("voice-remote-audio");
    if (audio) audio.srcObject = null;
    if (this.callId) {
      const headers = this.api.token ? { Authorization: `Bearer ${this.api.token}` } : {};
      fetch(`/voice/calls/${encodeURIComponent(this.callId)}`, { method: "DELETE", headers }).catch(() => {});
      this.callId = null;
    }
  }
}

// How loud the narrator is right now, and how much of it was heard: from the receiver's own statistics
// (inbound-rtp totalAudioEnergy / totalSamplesDuration, what Chromium decoded for playout), so no Web Audio
// graph is needed on the remote stream.
class RemoteMeter {
  constructor(pc, onLevel) {
    this.last = null;
    this.timer = setInterval(async () => {
      let report;
      try { report = await pc.getStats(); } catch { return; }
      for (const s of report.values()) {
        if (s.type !== "inbound-rtp" || s.kind !== "audio") continue;
        const now = { energy: s.totalAudioEnergy ?? 0, seconds: s.totalSamplesDuration ?? 0 };
        const last = this.last ?? now;
        this.last = now;
        const seconds = now.seconds - last.seconds;
        const rms = seconds > 0 ? Math.sqrt(Math.max(0, now.energy - last.energy) / seconds) : 0;
        const loud = rms > HEARD_RMS;
        onLevel(loud, loud ? Math.round(seconds * 1000) : 0);
      }
    }, LEVEL_EVERY_MS);
  }

  stop() { clearInterval(this.timer); }
}

function safeJson(text) {
  try { return JSON.parse(text); } catch { return null; }
}
