import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import type { UserRef } from "../../core/protocol";
import { PersonPicker } from "./PersonPicker";

const PEOPLE = { "u-ann": "ann", "u-bob": "bob", "u-bea": "bea", "u-cara": "cara" };

function setup(closeOnPick: boolean, onPick: (person: UserRef) => Promise<void> | void = () => undefined) {
  const pick = vi.fn(onPick);
  const onClose = vi.fn();
  render(
    <PersonPicker
      title="Add people to team"
      people={PEOPLE}
      exclude={new Set(["u-ann", "u-cara"])}
      onPick={pick}
      onClose={onClose}
      closeOnPick={closeOnPick}
    />,
  );
  const dialog = screen.getByRole("dialog", { name: "Add people to team" });
  // Each entry is an avatar (hidden from assistive technology) and the name.
  const offered = (): string[] =>
    within(dialog)
      .queryAllByRole("listitem")
      .map((item) => item.querySelector("button > span:last-child")?.textContent ?? "");
  return { pick, onClose, user: userEvent.setup(), dialog, offered };
}

describe("PersonPicker", () => {
  it("offers the people met, not oneself or those already in, narrowed by what is typed", async () => {
    const { user, offered } = setup(true);
    expect(offered()).toEqual(["bea", "bob"]);
    await user.type(screen.getByRole("textbox", { name: "Find a person" }), "BO");
    expect(offered()).toEqual(["bob"]);
    await user.type(screen.getByRole("textbox", { name: "Find a person" }), "x");
    expect(offered()).toEqual([]);
    expect(screen.getByText(/Nobody found/)).toBeInTheDocument();
  });

  it("closes after picking someone to write to", async () => {
    const { pick, onClose, user } = setup(true);
    await user.click(screen.getByRole("button", { name: /bob/ }));
    expect(pick).toHaveBeenCalledExactlyOnceWith({ id: "u-bob", name: "bob" });
    expect(onClose).toHaveBeenCalledOnce();
  });

  it("stays open while adding people, saying who was added or why not", async () => {
    const { onClose, user } = setup(false, (person) => {
      if (person.name === "bea") throw new Error("only the owner may add people");
    });
    await user.click(screen.getByRole("button", { name: /bob/ }));
    expect(screen.getByRole("status")).toHaveTextContent("Added bob.");
    await user.click(screen.getByRole("button", { name: /bea/ }));
    expect(screen.getByRole("status")).toHaveTextContent("only the owner may add people");
    expect(onClose).not.toHaveBeenCalled();
  });
});
