// Mic capture in an AudioWorklet: the context runs at 24 kHz, so this only converts Float32 to PCM16 and
// posts 40 ms chunks (960 samples) to the page.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunk = new Int16Array(960);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const sample = Math.max(-1, Math.min(1, channel[i]));
      this.chunk[this.filled++] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
      if (this.filled === this.chunk.length) {
        this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
        this.chunk = new Int16Array(960);
        this.filled = 0;
      }
    }
    return true;
  }
}
registerProcessor("capture-processor", CaptureProcessor);
