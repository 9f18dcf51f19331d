import { act, fireEvent, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { BOB } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { MessageList } from "./MessageList";

afterEach(() => {
  vi.unstubAllGlobals();
});

const bodies = (): string[] => screen.queryAllByTestId("message-body").map((b) => b.textContent ?? "");

describe("MessageList", () => {
  it("shows the room's messages in order, one's own marked, from the room's beginning", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    expect(screen.getByText("This is the very beginning of the room.")).toBeInTheDocument();
    chat.gateway.post("lobby", "hello ann", BOB);
    chat.client.send("lobby", "hello bob");
    await chat.settle();
    expect(bodies()).toEqual(["hello ann", "hello bob"]);
    const messages = screen.getAllByTestId("message");
    expect(messages.map((m) => [m.dataset.own, m.dataset.state])).toEqual([
      ["false", "sent"],
      ["true", "sent"],
    ]);
    expect(screen.getByRole("log", { name: "Messages in lobby" })).toBeInTheDocument();
  });

  it("shows a message as sending until the gateway has it", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    chat.gateway.answering = false;
    chat.client.send("lobby", "on its way");
    await chat.settle();
    expect(screen.getByTestId("message")).toHaveAttribute("data-state", "sending");
    expect(screen.getByText("Sending…")).toBeInTheDocument();
    chat.gateway.answering = true;
    await chat.settle();
    expect(screen.getByTestId("message")).toHaveAttribute("data-state", "sent");
  });

  it("says why a message was not sent, and retries it with the same id or discards it", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const user = userEvent.setup();
    chat.gateway.failSends = "forbidden";
    chat.client.send("lobby", "let me in");
    chat.client.send("lobby", "please");
    await chat.settle();
    const failed = screen.getAllByTestId("message");
    expect(failed.map((m) => m.dataset.state)).toEqual(["failed", "failed"]);
    expect(within(failed[0]!).getByRole("alert")).toHaveTextContent("not sent: you may not post in this room");

    chat.gateway.failSends = null;
    await user.click(within(failed[0]!).getByRole("button", { name: "Retry" }));
    await chat.settle();
    const sent = chat.gateway.sendsSeen.filter((c) => c.body === "let me in").map((c) => c.client_msg_id);
    expect(sent).toHaveLength(2);
    expect(new Set(sent).size).toBe(1);
    expect(screen.getAllByTestId("message").map((m) => m.dataset.state)).toEqual(["sent", "failed"]);

    await user.click(screen.getByRole("button", { name: "Discard" }));
    expect(bodies()).toEqual(["let me in"]);
  });

  it("shows a message's text as text, never as HTML", async () => {
    const chat = await chatWith(["lobby"]);
    const { container } = renderInChat(chat, <MessageList roomId="lobby" />);
    const payload = "<img src=x onerror=alert(1)>";
    chat.gateway.post("lobby", payload, BOB);
    await chat.settle();
    expect(screen.getByTestId("message-body")).toHaveTextContent(payload);
    expect(container.querySelector("img")).toBeNull();
  });

  it("isolates each message's direction, so an override cannot turn around what follows", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    chat.gateway.post("lobby", "\u202egnp.exe", BOB);
    chat.client.send("lobby", "after it");
    await chat.settle();
    for (const body of screen.getAllByTestId("message-body")) expect(body).toHaveAttribute("dir", "auto");
    const author = screen.getByText(BOB.name);
    expect(author.tagName).toBe("BDI");
    expect(bodies()).toEqual(["\u202egnp.exe", "after it"]);
  });

  it("draws the new messages line where the unread begin when a room is opened with messages waiting", async () => {
    const chat = await chatWith(["lobby", "random"]);
    chat.gateway.post("lobby", "seen before", BOB);
    chat.client.openRoom("lobby");
    chat.client.openRoom("random");
    await chat.settle();
    chat.gateway.post("lobby", "new one", BOB);
    chat.gateway.post("lobby", "new two", BOB);
    await chat.settle();
    act(() => chat.client.openRoom("lobby"));
    renderInChat(chat, <MessageList roomId="lobby" />);
    const line = screen.getByRole("separator", { name: "New messages" });
    const log = screen.getByRole("log");
    const order = [...log.querySelectorAll("[data-testid=message-body], [data-testid=new-messages]")].map(
      (e) => e.textContent,
    );
    expect(order).toEqual(["seen before", "New messages", "new one", "new two"]);
    expect(line).toBeInTheDocument();
  });

  it("tells the server what was read only once the newest messages are scrolled into view", async () => {
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const log = screen.getByRole("log");
    Object.defineProperty(log, "scrollHeight", { configurable: true, value: 2000 });
    Object.defineProperty(log, "clientHeight", { configurable: true, value: 400 });
    log.scrollTop = 0;
    fireEvent.scroll(log);
    chat.gateway.post("lobby", "while scrolled up", BOB);
    await chat.settle();
    await act(() => chat.clock.advance(1000));
    const reads = (): unknown[] => chat.recorder.latest.sent.filter((c) => c.type === "read").map((c) => c.seq);
    expect(reads()).toEqual([]);
    log.scrollTop = 1600;
    fireEvent.scroll(log);
    await chat.settle();
    expect(reads()).toEqual([1]);
  });

  it("keeps a reader at the newest messages there when the view gets shorter, and one scrolled up where they were", async () => {
    // jsdom has no layout and no ResizeObserver: the test plays the browser telling of a resize.
    type Told = (entries: unknown[]) => void;
    const observed: { tell: Told; target: Element }[] = [];
    vi.stubGlobal(
      "ResizeObserver",
      class {
        constructor(private readonly tell: Told) {}
        observe(target: Element): void {
          observed.push({ tell: this.tell, target });
        }
        unobserve(): void {}
        disconnect(): void {}
      },
    );
    const resized = (log: HTMLElement, height: number): void =>
      act(() => {
        const entry = { target: log, contentRect: { width: 800, height }, borderBoxSize: [{ inlineSize: 800, blockSize: height }] };
        for (const { tell, target } of observed) if (target === log) tell([entry]);
      });
    const chat = await chatWith(["lobby"]);
    renderInChat(chat, <MessageList roomId="lobby" />);
    const log = screen.getByRole("log");
    Object.defineProperty(log, "scrollHeight", { configurable: true, value: 2000 });
    let height = 600;
    Object.defineProperty(log, "clientHeight", { configurable: true, get: () => height });
    log.scrollTop = 1400;
    fireEvent.scroll(log); // at the bottom
    height = 450; // files attached under it
    resized(log, height);
    expect(log.scrollTop).toBe(2000);
    log.scrollTop = 300;
    fireEvent.scroll(log); // scrolled up to read
    height = 380;
    resized(log, height);
    expect(log.scrollTop).toBe(300);
  });
});
