import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { FakeClock, FakeGateway } from "../../test/fakes";
import { ANN, BOB } from "../../test/harness";
import { chatWith, renderInChat } from "../../test/render";
import { MessageList } from "../room/MessageList";

const messages = () => screen.getAllByTestId("message");

async function withMessages() {
  const chat = await chatWith(["lobby"]);
  const theirs = chat.gateway.post("lobby", "lunch at noon?", BOB);
  chat.client.send("lobby", "sure");
  await chat.settle();
  const replies: string[] = [];
  renderInChat(chat, <MessageList roomId="lobby" onReply={(message) => replies.push(message.id)} />);
  return { chat, theirs, mine: chat.gateway.rooms.get("lobby")![1]!, replies, user: userEvent.setup() };
}

describe("message actions", () => {
  it("offer Reply and React on anyone's message, Edit and Delete on one's own only", async () => {
    const { theirs, replies, user } = await withMessages();
    const [other, own] = messages();
    const bar = (article: HTMLElement) =>
      within(within(article).getByRole("toolbar", { name: "Message actions" }))
        .getAllByRole("button")
        .map((b) => b.textContent);
    expect(bar(other!)).toEqual(["Reply", "React"]);
    expect(bar(own!)).toEqual(["Reply", "React", "Edit", "Delete"]);
    await user.click(within(other!).getByRole("button", { name: "Reply" }));
    expect(replies).toEqual([theirs.id]);
  });

  it("is reached by keyboard: Tab focuses a message, then its buttons", async () => {
    const { user } = await withMessages();
    await user.tab();
    expect(messages()[0]).toHaveFocus();
    await user.tab();
    expect(within(messages()[0]!).getByRole("button", { name: "Reply" })).toHaveFocus();
  });

  it("reacts from the picker and shows the chip, marked as the reader's; a click takes it back", async () => {
    const { chat, user } = await withMessages();
    await user.click(within(messages()[0]!).getByRole("button", { name: "React" }));
    await user.click(within(screen.getByTestId("emoji-picker")).getByRole("button", { name: "React with 🎉" }));
    await chat.settle();
    const chip = within(messages()[0]!).getByTestId("reaction");
    expect(chip).toHaveTextContent("🎉1");
    expect(chip).toHaveAttribute("aria-pressed", "true");
    chat.gateway.postEvent("lobby", { type: "react", message_id: chat.gateway.rooms.get("lobby")![0]!.id, emoji: "🎉", client_msg_id: "b1" }, BOB);
    await chat.settle();
    expect(within(messages()[0]!).getByTestId("reaction")).toHaveTextContent("🎉2");
    await user.click(within(messages()[0]!).getByTestId("reaction"));
    await chat.settle();
    expect(within(messages()[0]!).getByTestId("reaction")).toHaveTextContent("🎉1");
    expect(within(messages()[0]!).getByTestId("reaction")).toHaveAttribute("aria-pressed", "false");
  });

  it("edits in place: Escape cancels, Enter saves, and the message says (edited) with when", async () => {
    const { chat, user } = await withMessages();
    const own = () => messages()[1]!;
    await user.click(within(own()).getByRole("button", { name: "Edit" }));
    const box = within(own()).getByRole("textbox", { name: "Edit message" });
    expect(box).toHaveValue("sure");
    await user.type(box, " thing{Escape}");
    expect(within(own()).getByTestId("message-body")).toHaveTextContent(/^sure$/);
    await user.click(within(own()).getByRole("button", { name: "Edit" }));
    await user.type(within(own()).getByRole("textbox", { name: "Edit message" }), ", <b>see</b> [[x](javascript:alert(1)){Enter}");
    await chat.settle();
    const body = within(own()).getByTestId("message-body");
    expect(body).toHaveTextContent("sure, <b>see</b> [x](javascript:alert(1))(edited)");
    expect(body.querySelector("b, a[href^='javascript']")).toBeNull();
    expect(within(own()).getByTestId("edited").title).toMatch(/^Edited /);
  });

  it("asks before deleting, and leaves a placeholder without actions", async () => {
    const { chat, user } = await withMessages();
    const own = () => messages()[1]!;
    await user.click(within(own()).getByRole("button", { name: "Delete" }));
    await user.click(within(screen.getByTestId("delete-confirm")).getByRole("button", { name: "Cancel" }));
    expect(chat.gateway.sendsSeen.filter((c) => c.type === "delete")).toEqual([]);
    await user.click(within(own()).getByRole("button", { name: "Delete" }));
    await user.click(within(screen.getByTestId("delete-confirm")).getByRole("button", { name: "Delete" }));
    await chat.settle();
    expect(within(own()).getByTestId("message-body")).toHaveTextContent("Message deleted");
    expect(within(own()).queryByRole("toolbar")).not.toBeInTheDocument();
  });

  it("says under the message why the gateway refused an action, until dismissed", async () => {
    const { chat, user } = await withMessages();
    chat.gateway.failActions = { code: "bad_request", message: "the edit window has passed" };
    const own = () => messages()[1]!;
    await user.click(within(own()).getByRole("button", { name: "Edit" }));
    await user.type(within(own()).getByRole("textbox", { name: "Edit message" }), "!{Enter}");
    await chat.settle();
    const notice = within(own()).getByTestId("action-error");
    expect(notice).toHaveTextContent("Could not edit this message: the edit window has passed");
    await user.click(within(notice).getByRole("button", { name: "Dismiss" }));
    expect(within(own()).queryByTestId("action-error")).not.toBeInTheDocument();
  });

  it("shows the quote of an answered message, and deleting the original leaves the answer's quote", async () => {
    const { chat, theirs, user } = await withMessages();
    act(() => chat.client.send("lobby", "yes!", { id: theirs.id, user: BOB, excerpt: "lunch at noon?" }));
    await chat.settle();
    const answer = messages()[2]!;
    expect(within(answer).getByTestId("reply-quote")).toHaveTextContent("boblunch at noon?");
    await user.click(within(answer).getByTestId("reply-quote"));
    expect(document.querySelector(".flash [data-testid=message]")).toHaveAttribute("data-id", theirs.id);
  });

  it("offers nothing to a member of a read-only room, and Delete to its owner", async () => {
    for (const [role, offered] of [
      ["member", null],
      ["owner", ["Reply", "React", "Delete"]],
    ] as const) {
      const clock = new FakeClock();
      const gateway = new FakeGateway(clock, ANN);
      gateway.memberships.set("news", { kind: "public", role, topic: "", readOnly: true });
      gateway.rooms.set("news", []);
      const chat = await chatWith(["news"], { clock, gateway });
      gateway.post("news", "announcement", BOB);
      await chat.settle();
      const { unmount } = renderInChat(chat, <MessageList roomId="news" />);
      const bar = within(messages()[0]!).queryByRole("toolbar");
      expect(bar === null ? null : within(bar).getAllByRole("button").map((b) => b.textContent)).toEqual(offered);
      unmount();
    }
  });
});
