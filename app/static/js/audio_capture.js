// The microphone: getUserMedia with echo cancellation, noise suppression and auto gain, through the
// capture worklet, which hands over PCM16 24 kHz frames and their level.

export class MicError extends Error {
  /** kind: "denied" | "no-device" | "busy" | "insecure" | "failed" */
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

export class AudioCapture {
  /** @param {{onFrame: (pcm: ArrayBuffer, level: number) => void}} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    this.stream = null;
    this.source = null;
    this.node = null;
    this.sink = null;
    this.muted = false;
  }

  async start(ctx) {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      throw new MicError("insecure", "The microphone needs a secure page: open it over https or on localhost.");
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
        video: false,
      });
    } catch (err) {
      throw toMicError(err);
    }
    this.source = ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(ctx, "pcm-capture", {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { targetRate: 24000, frameMs: 40 },
    });
    this.node.port.onmessage = (e) => {
      if (e.data.type === "frame") this.handlers.onFrame(e.data.pcm, this.muted ? 0 : e.data.level);
    };
    // A silent sink keeps the worklet pulled by the graph; nothing of the mic is heard.
    this.sink = ctx.createGain();
    this.sink.gain.value = 0;
    this.source.connect(this.node).connect(this.sink).connect(ctx.destination);
    this.setMuted(this.muted);
    return this.describe(ctx);
  }

  describe(ctx) {
    const track = this.stream?.getAudioTracks()[0];
    const s = track?.getSettings?.() ?? {};
    return {
      device: track?.label || "microphone", contextRate: ctx.sampleRate, sentRate: 24000, format: "pcm16",
      echoCancellation: s.echoCancellation, noiseSuppression: s.noiseSuppression, autoGainControl: s.autoGainControl,
    };
  }

  setMuted(muted) {
    this.muted = muted;
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = !muted;
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    for (const node of [this.source, this.node, this.sink]) {
      try { node?.disconnect(); } catch { /* already disconnected */ }
    }
    if (this.node) this.node.port.onmessage = null;
    this.stream = this.source = this.node = this.sink = null;
  }
}

function toMicError(err) {
  const name = err?.name || "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
    return new MicError("denied", "Microphone permission was refused.");
  }
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
    return new MicError("no-device", "No microphone was found.");
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return new MicError("busy", "The microphone is in use by another application or could not be started.");
  }
  return new MicError("failed", `The microphone could not be started (${name || "unknown error"}).`);
}
