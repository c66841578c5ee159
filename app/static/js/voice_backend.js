// Which voice backend speaks (the server says so in every voice.state): "live" (GPT-Live client delegation)
// or "realtime" (the Realtime API). Shown as a small pill next to the voice state, with the full name as title.
const NAMES = { live: "GPT-Live", realtime: "Realtime API" };

export function showVoiceBackend(backend) {
  if (!backend) return;
  let pill = document.getElementById("voice-backend");
  if (!pill) {
    const anchor = document.getElementById("voice-pill");
    if (!anchor) return;
    pill = document.createElement("span");
    pill.id = "voice-backend";
    pill.className = "pill";
    anchor.after(pill);
  }
  pill.dataset.backend = backend;
  pill.textContent = NAMES[backend] ?? backend;
  pill.title = `The narrator speaks through ${NAMES[backend] ?? backend}`;
}
