import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { ProtocolError } from "../../core/protocol";
import { TopicDialog } from "./TopicDialog";

function setup(topic = "", onSave: (topic: string) => Promise<void> = async () => undefined) {
  const save = vi.fn(onSave);
  const onClose = vi.fn();
  render(<TopicDialog topic={topic} onSave={save} onClose={onClose} />);
  return {
    save,
    onClose,
    user: userEvent.setup(),
    box: screen.getByRole("textbox", { name: "Topic" }),
    saveButton: screen.getByRole("button", { name: "Save" }),
  };
}

describe("TopicDialog", () => {
  it("is titled Room topic and starts from the room's topic", () => {
    const { box } = setup("Launch plans");
    expect(screen.getByRole("dialog", { name: "Room topic" })).toBeInTheDocument();
    expect(box).toHaveValue("Launch plans");
    expect(box).toHaveFocus();
    expect(screen.getByTestId("topic-count")).toHaveTextContent("12/250");
  });

  it("saves the topic without the spaces around it, then closes", async () => {
    const { save, onClose, user, box, saveButton } = setup("Old");
    await user.clear(box);
    await user.type(box, "  Launch plans  ");
    await user.click(saveButton);
    expect(save).toHaveBeenCalledExactlyOnceWith("Launch plans");
    expect(onClose).toHaveBeenCalledOnce();
  });

  it("saves with Enter, which never makes a second line, and clears with an empty box", async () => {
    const { save, user, box } = setup("Old");
    await user.clear(box);
    await user.type(box, "{Enter}");
    expect(save).toHaveBeenCalledExactlyOnceWith("");
    expect(box).toHaveValue("");
  });

  it("says what is wrong before sending: too long, or more than one line", async () => {
    const { save, user, box, saveButton } = setup();
    await user.click(box);
    await user.paste("x".repeat(251));
    expect(screen.getByRole("alert")).toHaveTextContent("A topic is at most 250 characters (this one has 251).");
    expect(screen.getByTestId("topic-count")).toHaveTextContent("251/250");
    expect(box).toBeInvalid();
    expect(saveButton).toBeDisabled();
    await user.type(box, "{Enter}");

    await user.clear(box);
    await user.paste("first line\nsecond line");
    expect(screen.getByRole("alert")).toHaveTextContent("A topic is one line: remove the line breaks.");
    expect(saveButton).toBeDisabled();
    await user.type(box, "{Enter}");
    expect(save).not.toHaveBeenCalled();

    await user.clear(box);
    await user.type(box, "fine");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(saveButton).toBeEnabled();
  });

  it("shows why the gateway refused and stays open to try again", async () => {
    const { onClose, user, box, saveButton } = setup("", async () => {
      throw new ProtocolError("forbidden", "only the room's owner or a moderator may do that");
    });
    await user.type(box, "Mine now");
    await user.click(saveButton);
    expect(await screen.findByRole("alert")).toHaveTextContent("only the room's owner or a moderator may do that");
    expect(onClose).not.toHaveBeenCalled();
    expect(saveButton).toBeEnabled();
    // Typing again puts the refusal away until the next try.
    await user.type(box, "!");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("closes on Cancel and on Escape without saving", async () => {
    const { save, onClose, user } = setup("Old");
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    await user.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalledTimes(2);
    expect(save).not.toHaveBeenCalled();
  });
});
