import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { Composer } from "./Composer";

function setup(props: Partial<Parameters<typeof Composer>[0]> = {}) {
  const onSend = vi.fn();
  const onTyping = vi.fn();
  render(
    <Composer
      roomTitle="#lobby"
      disabled={false}
      disabledReason="You are not in this room."
      maxChars={4000}
      onSend={onSend}
      onTyping={onTyping}
      {...props}
    />,
  );
  return { onSend, onTyping, box: screen.getByRole("textbox", { name: "Message #lobby" }), user: userEvent.setup() };
}

describe("Composer", () => {
  it("sends what was typed on Enter and empties the box", async () => {
    const { onSend, onTyping, box, user } = setup();
    await user.type(box, "hello{Enter}");
    expect(onSend).toHaveBeenCalledExactlyOnceWith("hello");
    expect(onTyping).toHaveBeenCalled();
    expect(box).toHaveValue("");
  });

  it("starts a new line on Shift+Enter", async () => {
    const { onSend, box, user } = setup();
    await user.type(box, "first{Shift>}{Enter}{/Shift}second");
    expect(onSend).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "Send" }));
    expect(onSend).toHaveBeenCalledExactlyOnceWith("first\nsecond");
  });

  it("leaves Enter to the input method while it composes a character", () => {
    const { onSend, box } = setup();
    fireEvent.change(box, { target: { value: "にほん" } });
    fireEvent.keyDown(box, { key: "Enter", isComposing: true });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).toHaveBeenCalledExactlyOnceWith("にほん");
  });

  it("sends nothing blank and nothing too long, and says how much is left", async () => {
    const { onSend, box, user } = setup({ maxChars: 205 });
    await user.type(box, "   {Enter}");
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.change(box, { target: { value: "x".repeat(210) } });
    expect(screen.getByText("-5")).toHaveClass("over");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).not.toHaveBeenCalled();
  });

  it("says why one cannot write", () => {
    const { box } = setup({ disabled: true, disabledReason: "This room is read-only." });
    expect(box).toBeDisabled();
    expect(box).toHaveAttribute("placeholder", "This room is read-only.");
  });

  it("offers the room's members for an @name and puts the chosen one in, by keyboard or click", async () => {
    const members = ["bob", "bea", "carol", "ann"].map((name) => ({ id: `u-${name}`, name, role: "member", online: false }));
    const onWantMembers = vi.fn();
    const { onSend, box, user } = setup({ members, me: "u-ann", onWantMembers });
    await user.type(box, "hi @b");
    expect(onWantMembers).toHaveBeenCalled();
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["@bea", "@bob"]);
    await user.keyboard("{ArrowDown}{Enter}");
    expect(box).toHaveValue("hi @bob ");
    expect(onSend).not.toHaveBeenCalled();
    await user.type(box, "and @");
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["@bea", "@bob", "@carol"]);
    await user.type(box, "c");
    await user.keyboard("{Tab}");
    expect(box).toHaveValue("hi @bob and @carol ");
    await user.type(box, "@b");
    await user.click(screen.getByRole("option", { name: "@bea" }));
    expect(box).toHaveValue("hi @bob and @carol @bea ");
    await user.type(box, "@z");
    expect(screen.queryByRole("listbox")).not.toBeInTheDocument();
    await user.type(box, "{Backspace}{Backspace}{Enter}");
    expect(onSend).toHaveBeenCalledExactlyOnceWith("hi @bob and @carol @bea ");
  });

  it("sends a name typed out in full on Enter, without completing it", async () => {
    const members = [{ id: "u-bob", name: "bob", role: "member", online: false }];
    const { onSend, box, user } = setup({ members });
    await user.type(box, "thanks @bob");
    expect(screen.getByRole("listbox")).toBeInTheDocument();
    await user.keyboard("{Enter}");
    expect(onSend).toHaveBeenCalledExactlyOnceWith("thanks @bob");
  });

  it("closes the offer on Escape, and Enter sends again", async () => {
    const members = [{ id: "u-bob", name: "bob", role: "member", online: false }];
    const { onSend, box, user } = setup({ members });
    await user.type(box, "@bo");
    expect(screen.getByRole("listbox")).toBeInTheDocument();
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("listbox")).not.toBeInTheDocument();
    await user.keyboard("{Enter}");
    expect(onSend).toHaveBeenCalledExactlyOnceWith("@bo");
  });

  it("shows the message being answered, and Escape or × stops answering", async () => {
    const onCancelReply = vi.fn();
    const { box, user } = setup({
      replyTo: { id: "m1", user: { id: "u-bob", name: "bob" }, excerpt: "lunch?" },
      onCancelReply,
    });
    expect(screen.getByTestId("replying-to")).toHaveTextContent("Replying to boblunch?");
    await user.click(box);
    await user.keyboard("{Escape}");
    expect(onCancelReply).toHaveBeenCalledTimes(1);
    await user.click(screen.getByRole("button", { name: "Cancel reply" }));
    expect(onCancelReply).toHaveBeenCalledTimes(2);
  });
});
