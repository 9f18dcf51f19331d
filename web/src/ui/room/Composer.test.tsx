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
});
