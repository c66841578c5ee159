// AudioWorklet: the narrator's PCM16 24 kHz audio -> the context's rate, through a jitter buffer.
// Playback starts once `prebufferMs` are queued (or the item is complete), re-buffers after an underrun,
// and counts what was really played per item so barge-in can report played milliseconds.
//
// Messages in:  {type: "audio", itemId, pcm: ArrayBuffer}  {type: "end", itemId}  {type: "clear", requestId}
// Messages out: {type: "stats", ...} every ~100 ms and on changes, {type: "ended", itemId, playedMs},
//               {type: "cleared", requestId, itemId, playedMs}

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.inputRate = opts.inputRate || 24000;
    this.step = this.inputRate / sampleRate; // input samples per output sample
    this.prebuffer = Math.round((this.inputRate * (opts.prebufferMs || 120)) / 1000);
    this.maxBuffered = this.inputRate * (opts.maxBufferSeconds || 180);
    this.queue = []; // chunks: {itemId, data: Float32Array, off}
    this.buffered = 0; // input samples queued and not yet played
    this.frac = 0;
    this.playing = false;
    this.items = new Map(); // itemId -> {queued, played, ended}
    this.playedTotal = 0;
    this.underruns = 0;
    this.dropped = 0;
    this.nextReport = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  item(itemId) {
    let state = this.items.get(itemId);
    if (!state) {
      state = { queued: 0, played: 0, ended: false, done: false };
      this.items.set(itemId, state);
      if (this.items.size > 64) this.items.delete(this.items.keys().next().value);
    }
    return state;
  }

  onMessage(m) {
    if (m.type === "audio") {
      const pcm = new Int16Array(m.pcm);
      const data = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
      this.queue.push({ itemId: m.itemId, data, off: 0 });
      this.buffered += data.length;
      this.item(m.itemId).queued += data.length;
      while (this.buffered > this.maxBuffered && this.queue.length > 1) {
        const old = this.queue.shift();
        this.buffered -= old.data.length - old.off;
        this.dropped += old.data.length - old.off;
      }
    } else if (m.type === "end") {
      const state = this.item(m.itemId);
      state.ended = true;
      this.maybeEnded(m.itemId);
    } else if (m.type === "clear") {
      // The item being heard (or the last one heard, if it was still expected to continue).
      const head = this.queue[0];
      const itemId = head ? head.itemId : this.lastItem ?? null;
      const state = itemId !== null ? this.items.get(itemId) : null;
      const cut = state && !state.done ? itemId : null; // an item that already played to its end was not cut
      for (const chunk of this.queue) {
        const s = this.items.get(chunk.itemId);
        if (s) s.ended = s.done = true;
      }
      if (state) state.ended = state.done = true;
      this.queue = [];
      this.buffered = 0;
      this.frac = 0;
      this.playing = false;
      this.port.postMessage({ type: "cleared", requestId: m.requestId, itemId: cut,
        playedMs: cut !== null ? Math.round((state.played * 1000) / this.inputRate) : 0 });
      this.report(true);
    }
  }

  maybeEnded(itemId) {
    const state = this.items.get(itemId);
    if (state && state.ended && !state.done && state.played >= state.queued && !this.queue.some((c) => c.itemId === itemId)) {
      state.done = true;
      this.port.postMessage({ type: "ended", itemId, playedMs: Math.round((state.played * 1000) / this.inputRate) });
    }
  }

  headComplete() {
    const head = this.queue[0];
    if (!head) return false;
    const state = this.items.get(head.itemId);
    return !!state && state.ended;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    const wasPlaying = this.playing;
    if (!this.playing && this.buffered > 0 && (this.buffered >= this.prebuffer || this.headComplete())) this.playing = true;
    let i = 0;
    if (this.playing) {
      for (; i < out.length; i++) {
        const head = this.queue[0];
        if (!head) break;
        const a = head.data[head.off];
        const b = head.off + 1 < head.data.length ? head.data[head.off + 1] : (this.queue[1] ? this.queue[1].data[0] : a);
        out[i] = a + (b - a) * this.frac;
        this.frac += this.step;
        while (this.frac >= 1 && this.queue.length) {
          this.frac -= 1;
          this.advance();
        }
      }
      if (i < out.length) {
        // Ran dry: an underrun if the item was still expected to continue.
        const last = this.items.get(this.lastItem);
        if (last && !last.ended) this.underruns += 1; // starved mid-item: the network was late
        this.playing = false;
        this.frac = 0;
      }
    }
    out.fill(0, i);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.report(wasPlaying !== this.playing);
    return true;
  }

  advance() {
    const head = this.queue[0];
    head.off += 1;
    this.buffered -= 1;
    this.playedTotal += 1;
    this.lastItem = head.itemId;
    const state = this.items.get(head.itemId);
    if (state) state.played += 1;
    if (head.off >= head.data.length) {
      this.queue.shift();
      this.maybeEnded(head.itemId);
    }
  }

  report(force) {
    if (!force && (currentTime < this.nextReport || (!this.playing && this.buffered === 0))) return;
    this.nextReport = currentTime + 0.1;
    this.port.postMessage({
      type: "stats", playing: this.playing, playedSamples: this.playedTotal,
      bufferedMs: Math.round((this.buffered * 1000) / this.inputRate), underruns: this.underruns, dropped: this.dropped,
    });
  }
}

registerProcessor("pcm-playback", PlaybackProcessor);
