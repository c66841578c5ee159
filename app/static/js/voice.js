// The voice connection: mic → /ws/voice (PCM16 24 kHz), narrator audio → playback worklet, captions,
// barge-in (playback.stop → clear → report played ms), and the realtime event log.
export const voiceStats = { bytesSent: 0, framesSent: 0, bytesReceived: 0, bytesPlayed: 0 };
window.__voiceStats = voiceStats;

export class Voice {
  constructor({ sessionId, onState, onCaption, onLog, onError }) {
    Object.assign(this, { sessionId, onState, onCaption, onLog, onError });
    this.item = null;
    this.muted = false;
  }

  async start() {
    this.context = new AudioContext({ sampleRate: 24000 });
    await this.context.audioWorklet.addModule("/static/js/worklets/capture.js");
    await this.context.audioWorklet.addModule("/static/js/worklets/playback.js");
    this.gain = this.context.createGain();
    this.player = new AudioWorkletNode(this.context, "playback-processor");
    this.player.connect(this.gain).connect(this.context.destination);
    this.player.port.onmessage = ({ data }) => this.played(data);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      });
    } catch (error) {
      this.onError("microphone", "The microphone is not available: allow it in the browser, or type your question.");
      await this.stop();
      return false;
    }
    const source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "capture-processor");
    this.capture.port.onmessage = ({ data }) => this.sendAudio(data);
    source.connect(this.capture);
    this.open();
    return true;
  }

  open() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ session: this.sessionId });
    const token = new URLSearchParams(location.search).get("token");
    if (token) params.set("token", token);
    this.ws = new WebSocket(`${proto}://${location.host}/ws/voice?${params}`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (message) => this.receive(message.data);
    this.ws.onclose = () => { if (this.context) this.onState("closed", "Voice disconnected"); };
  }

  sendAudio(buffer) {
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(buffer);
      voiceStats.bytesSent += buffer.byteLength;
      voiceStats.framesSent += 1;
    }
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      voiceStats.bytesReceived += data.byteLength;
      this.player.port.postMessage({ type: "audio", buffer: data, item: this.item }, [data]);
      return;
    }
    const message = JSON.parse(data);
    switch (message.type) {
      case "voice.state": this.onState(message.state, message.message); break;
      case "audio.start": this.item = message.item_id; break;
      case "playback.stop": this.player.port.postMessage({ type: "clear" }); break;
      case "caption": this.onCaption(message); break;
      case "realtime.log": this.onLog(message.dir, message.name, message.data, "realtime", message.time); break;
      case "error": this.onError(message.code, message.message); break;
    }
  }

  played({ item, played_ms, total_samples, stopped }) {
    voiceStats.bytesPlayed = total_samples * 2;
    if (stopped && item) this.send({ type: "playback", item_id: item, played_ms });
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.gain) this.gain.gain.value = muted ? 0 : 1;
  }

  async stop() {
    this.ws?.close();
    this.stream?.getTracks().forEach((track) => track.stop());
    await this.context?.close();
    this.context = null;
  }
}
