import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { ProtocolError } from "../../core/protocol";
import { NewRoomDialog } from "./NewRoomDialog";

function setup(onCreate: (name: string, kind: "public" | "private") => Promise<void> = async () => undefined) {
  const create = vi.fn(onCreate);
  const onClose = vi.fn();
  render(<NewRoomDialog onCreate={create} onClose={onClose} />);
  return {
    create,
    onClose,
    user: userEvent.setup(),
    name: screen.getByTestId("new-room-name"),
    submit: screen.getByTestId("create-room"),
  };
}

describe("NewRoomDialog", () => {
  it("creates the room under the name the gateway accepts, then closes", async () => {
    const { create, onClose, user, name, submit } = setup();
    expect(name).toHaveFocus();
    await user.type(name, " Design Reviews ");
    await user.click(screen.getByRole("radio", { name: /Private/ }));
    await user.click(submit);
    expect(create).toHaveBeenCalledExactlyOnceWith("design-reviews", "private");
    expect(onClose).toHaveBeenCalledOnce();
  });

  it("will not create a room whose name the gateway would refuse", async () => {
    const { create, user, name, submit } = setup();
    expect(submit).toBeDisabled();
    await user.type(name, "café!");
    expect(submit).toBeDisabled();
    await user.type(name, "{Enter}");
    expect(create).not.toHaveBeenCalled();
    await user.clear(name);
    await user.type(name, "cafe_2");
    expect(submit).toBeEnabled();
  });

  it("shows why the gateway refused and stays open to try again", async () => {
    const { onClose, user, name, submit } = setup(async () => {
      throw new ProtocolError("bad_request", "a room with that name exists");
    });
    await user.type(name, "lobby");
    await user.click(submit);
    expect(await screen.findByRole("alert")).toHaveTextContent("a room with that name exists");
    expect(onClose).not.toHaveBeenCalled();
    expect(submit).toBeEnabled();
  });

  it("closes on Escape and on Cancel", async () => {
    const { onClose, user } = setup();
    await user.keyboard("{Escape}");
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onClose).toHaveBeenCalledTimes(2);
  });
});
