// Renders components inside a chat of their own (the in-memory gateway of harness.ts), with
// every store change from the test wrapped in act so React has rendered before it looks.

import { act, render } from "@testing-library/react";
import type { ReactNode } from "react";

import { ChatProvider } from "../ui/state";
import { startChat, type Chat, type ChatOptions } from "./harness";

export interface RenderedChat extends Chat {
  /** Plays the gateway until the client is quiet, letting React render what changed. */
  settle(): Promise<void>;
}

/** Starts ann's chat, connected, with `rooms` open in turn (the last one in view). */
export async function chatWith(rooms: readonly string[], options: ChatOptions = {}): Promise<RenderedChat> {
  const chat = startChat(options);
  const settle = (): Promise<void> => act(chat.pump);
  chat.client.start();
  await settle();
  for (const room of rooms) {
    chat.client.openRoom(room);
    await settle();
  }
  return { ...chat, settle };
}

export function renderInChat(chat: Chat, ui: ReactNode): ReturnType<typeof render> {
  return render(<ChatProvider client={chat.client}>{ui}</ChatProvider>);
}
