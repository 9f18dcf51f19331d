import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { BOB, startChat } from "../test/harness";
import { ChatScreen } from "./ChatScreen";
import { ChatProvider } from "./state";

// Counts every commit of the message list, whoever caused it: its parent or its own stores.
const renders = vi.hoisted(() => ({ messageList: 0 }));
vi.mock("./room/MessageList", async (importOriginal) => {
  const { Profiler, createElement } = await import("react");
  const original = await importOriginal<typeof import("./room/MessageList")>();
  return {
    MessageList: (props: { roomId: string }) =>
      createElement(
        Profiler,
        { id: "message-list", onRender: () => renders.messageList++ },
        createElement(original.MessageList, props),
      ),
  };
});

async function chatInLobby() {
  const chat = startChat();
  chat.client.start();
  await act(chat.pump);
  chat.client.openRoom("lobby");
  await act(chat.pump);
  chat.gateway.post("lobby", "hello ann", BOB);
  await act(chat.pump);
  render(
    <ChatProvider client={chat.client}>
      <ChatScreen onLogout={() => undefined} />
    </ChatProvider>,
  );
  return chat;
}

describe("ChatScreen", () => {
  it("shows who types without rendering the message list again", async () => {
    const chat = await chatInLobby();
    expect(screen.getByTestId("message-body")).toHaveTextContent("hello ann");
    const before = renders.messageList;

    act(() => chat.recorder.latest.push({ type: "typing", room: "lobby", user: BOB }));
    expect(screen.getByTestId("typing")).toHaveTextContent("bob is typing…");
    expect(renders.messageList).toBe(before);

    // The counter does count: a message renders the list again.
    await act(async () => {
      chat.gateway.post("lobby", "still here?", BOB);
      await chat.pump();
    });
    expect(screen.getAllByTestId("message-body").map((m) => m.textContent)).toEqual(["hello ann", "still here?"]);
    expect(screen.getByTestId("typing")).toHaveTextContent("");
    expect(renders.messageList).toBeGreaterThan(before);
  });

  it("shows who comes online without rendering the message list again", async () => {
    const chat = await chatInLobby();
    const before = renders.messageList;
    act(() => chat.recorder.latest.push({ type: "presence", room: "lobby", user: BOB, state: "online" }));
    expect(screen.getByTestId("toggle-people")).toHaveTextContent("2 online");
    expect(renders.messageList).toBe(before);
  });

  it("keeps files dropped beside the room from replacing the app, and attaches only those dropped on it", async () => {
    const chat = await chatInLobby();
    const files = { files: [new File(["x"], "a.txt", { type: "text/plain" })], types: ["Files"] };
    const sidebar = screen.getByRole("navigation", { name: "Rooms" });
    expect(fireEvent.dragOver(sidebar, { dataTransfer: files })).toBe(false);
    expect(fireEvent.drop(sidebar, { dataTransfer: files })).toBe(false);
    await act(chat.pump);
    expect(chat.client.stores.drafts.get()).toEqual({});
    // Text dragged about the page is left to the browser.
    expect(fireEvent.dragOver(sidebar, { dataTransfer: { files: [], types: ["text/plain"] } })).toBe(true);
    fireEvent.drop(screen.getByTestId("messages"), { dataTransfer: files });
    await act(chat.pump);
    expect(chat.client.stores.drafts.get().lobby?.map((file) => file.name)).toEqual(["a.txt"]);
  });
});
