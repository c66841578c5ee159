// The voice service's events on a WebRTC call's data channel, as the page's own voice messages: live captions
// for both sides (the same shapes the relay sends), so captions work without our server in the audio path.
export function captionFrom(event) {
  switch (event.type) {
    case "conversation.item.input_audio_transcription.delta":
      return { type: "caption", role: "user", item_id: event.item_id ?? "", delta: event.delta ?? "" };
    case "conversation.item.input_audio_transcription.completed":
      return { type: "caption", role: "user", item_id: event.item_id ?? "", text: event.transcript ?? "", final: true };
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      return { type: "caption", role: "assistant", item_id: event.item_id ?? "", delta: event.delta ?? "" };
    case "response.output_audio_transcript.done":
      return { type: "caption", role: "assistant", item_id: event.item_id ?? "", text: event.transcript ?? "", final: true };
    case "response.output_text.done":
      return { type: "caption", role: "assistant", item_id: event.item_id ?? "", text: event.text ?? "", final: true };
    default:
      return null;
  }
}

