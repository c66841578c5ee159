// The narrator's voice: PCM16 24 kHz chunks into the playback worklet (jitter buffer, resampling),
// with counters the page and its tests can read, and barge-in (stop now, report what was played).

export class AudioPlayback {
  /** @param {{onEnded?: Function, onPlaying?: Function, onStats?: Function}} handlers */
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.node = null;
    this.itemId = null;
    this.pending = new Map();
    this.nextRequest = 1;
    this.stats = { receivedBytes: 0, playedBytes: 0, bufferedMs: 0, underruns: 0, playing: false };
  }

  async init(ctx) {
    if (this.node) return;
    this.node = new AudioWorkletNode(ctx, "pcm-playback", {
      numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { inputRate: 24000, prebufferMs: 120 },
    });
    this.node.port.onmessage = (e) => this.onMessage(e.data);
    this.node.connect(ctx.destination);
  }

  onMessage(m) {
    if (m.type === "stats") {
      const wasPlaying = this.stats.playing;
      Object.assign(this.stats, { playedBytes: m.playedSamples * 2, bufferedMs: m.bufferedMs, underruns: m.underruns, playing: m.playing });
      if (wasPlaying !== m.playing) this.handlers.onPlaying?.(m.playing);
      this.handlers.onStats?.(this.stats);
    } else if (m.type === "ended") {
      this.handlers.onEnded?.(m.itemId, m.playedMs);
    } else if (m.type === "cleared") {
      this.pending.get(m.requestId)?.({ itemId: m.itemId, playedMs: m.playedMs });
      this.pending.delete(m.requestId);
    }
  }

  /** The binary frames that follow belong to this assistant item. */
  startItem(itemId) {
    this.itemId = itemId;
    if (itemId !== this.cutItem) this.cutItem = null;
  }

  push(buffer) {
    this.stats.receivedBytes += buffer.byteLength;
    if (!this.node || buffer.byteLength < 2 || (this.cutItem && this.itemId === this.cutItem)) return;
    const even = buffer.byteLength % 2 ? buffer.slice(0, buffer.byteLength - 1) : buffer;
    this.node.port.postMessage({ type: "audio", itemId: this.itemId, pcm: even }, [even]);
  }

  /** No more audio will come for this item: play out what is queued. */
  endItem(itemId) { this.node?.port.postMessage({ type: "end", itemId }); }

  /** Barge-in: drop everything queued at once; resolves with the item cut and how much of it was played. */
  stop() {
    if (!this.node) return Promise.resolve({ itemId: null, playedMs: 0 });
    const requestId = this.nextRequest++;
    this.cutItem = this.itemId; // late frames of the interrupted item are dropped
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.node.port.postMessage({ type: "clear", requestId });
      setTimeout(() => {
        if (this.pending.delete(requestId)) resolve({ itemId: null, playedMs: 0 }); // unknown: report nothing
      }, 500);
    });
  }

  close() {
    try { this.node?.disconnect(); } catch { /* gone */ }
    this.node = null;
  }
}
