// "bob is typing…" under the messages: the one part of the room that changes with typing events.

import { typingText } from "../../core/typing";
import { useTypists } from "../state";

export function TypingLine({ roomId }: { roomId: string }) {
  const typists = useTypists(roomId);
  return (
    <div className="typing" aria-live="polite" data-testid="typing">
      {typingText(typists.map((t) => t.user))}
    </div>
  );
}
