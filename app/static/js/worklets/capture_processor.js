// AudioWorklet: microphone samples at the context's rate -> PCM16 mono at 24 kHz, in frames of `frameMs`.
// Low-pass (biquad) before downsampling, then linear interpolation; each frame goes to the page with its level.

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.targetRate = opts.targetRate || 24000;
    this.frameSamples = Math.round((this.targetRate * (opts.frameMs || 40)) / 1000);
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.t = 0; // position of the next output sample, in input samples from the current block's start
    this.prev = 0; // the previous block's last (filtered) sample, at index -1
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.energy = 0;
    this.filter = this.step > 1.01 ? lowpass(sampleRate, Math.min(0.45 * this.targetRate, 0.45 * sampleRate)) : null;
    this.z1 = 0;
    this.z2 = 0;
    this.scratch = new Float32Array(128);
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;
    const n = input[0].length;
    if (this.scratch.length < n) this.scratch = new Float32Array(n);
    const x = this.scratch;
    // Mono: average the channels.
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < input.length; c++) s += input[c][i];
      x[i] = s / input.length;
    }
    if (this.filter) {
      const { b0, b1, b2, a1, a2 } = this.filter;
      let { z1, z2 } = this;
      for (let i = 0; i < n; i++) {
        const v = x[i];
        const y = b0 * v + z1;
        z1 = b1 * v - a1 * y + z2;
        z2 = b2 * v - a2 * y;
        x[i] = y;
      }
      this.z1 = z1;
      this.z2 = z2;
    }
    while (this.t < n - 1) {
      const i = Math.floor(this.t);
      const frac = this.t - i;
      const a = i < 0 ? this.prev : x[i];
      const b = x[i + 1];
      this.push(a + (b - a) * frac);
      this.t += this.step;
    }
    this.t -= n;
    this.prev = x[n - 1];
    return true;
  }

  push(sample) {
    const s = sample > 1 ? 1 : sample < -1 ? -1 : sample;
    this.energy += s * s;
    this.frame[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.filled === this.frameSamples) {
      const level = Math.sqrt(this.energy / this.frameSamples);
      const pcm = this.frame.buffer;
      this.port.postMessage({ type: "frame", pcm, level }, [pcm]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
      this.energy = 0;
    }
  }
}

// RBJ cookbook low-pass, Q = 1/sqrt(2).
function lowpass(rate, cutoff) {
  const w = (2 * Math.PI * cutoff) / rate;
  const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  return {
    b0: (1 - cos) / 2 / a0, b1: (1 - cos) / a0, b2: (1 - cos) / 2 / a0,
    a1: (-2 * cos) / a0, a2: (1 - alpha) / a0,
  };
}

registerProcessor("pcm-capture", CaptureProcessor);
