// One AudioContext for the page, created on the person's first press (browsers require a gesture), with both
// AudioWorklet processors loaded.
let context = null;
let modules = null;

export async function audioContext() {
  if (!context) {
    const Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor || !("audioWorklet" in Ctor.prototype)) {
      throw Object.assign(new Error("This browser cannot process audio here (no AudioWorklet)."), { kind: "unsupported" });
    }
    context = new Ctor({ latencyHint: "interactive" });
    modules = Promise.all([
      context.audioWorklet.addModule("/static/js/worklets/capture_processor.js"),
      context.audioWorklet.addModule("/static/js/worklets/playback_processor.js"),
    ]);
  }
  if (context.state === "suspended") await context.resume();
  await modules;
  return context;
}
