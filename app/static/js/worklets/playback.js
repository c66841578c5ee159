// Narrator playback in an AudioWorklet with a small jitter buffer (starts after 80 ms are queued).
// "clear" drops everything at once (barge-in) and reports how much of the current item was played.
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.offset = 0;
    this.buffered = 0;
    this.started = false;
    this.item = null;
    this.playedSamples = 0;
    this.totalSamples = 0;
    this.sinceReport = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "audio") {
        this.queue.push({ samples: new Int16Array(data.buffer), item: data.item });
        this.buffered += data.buffer.byteLength / 2;
      } else if (data.type === "clear") {
        this.report(true);
        this.queue = []; this.offset = 0; this.buffered = 0; this.started = false;
      }
    };
  }

  report(stopped) {
    this.port.postMessage({ type: "played", item: this.item, played_ms: Math.round(this.playedSamples / 24),
                            total_samples: this.totalSamples, stopped });
    this.sinceReport = 0;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.started && this.buffered >= 1920) this.started = true;
    for (let i = 0; i < out.length; i++) {
      if (!this.started || !this.queue.length) { out[i] = 0; continue; }
      const head = this.queue[0];
      if (head.item !== this.item) { this.item = head.item; this.playedSamples = 0; }
      out[i] = head.samples[this.offset++] / 0x8000;
      this.playedSamples++; this.totalSamples++; this.buffered--; this.sinceReport++;
      if (this.offset >= head.samples.length) { this.queue.shift(); this.offset = 0; }
    }
    if (this.started && !this.queue.length) { this.started = false; this.report(false); }
    else if (this.sinceReport > 2400) this.report(false);
    return true;
  }
}
registerProcessor("playback-processor", PlaybackProcessor);
