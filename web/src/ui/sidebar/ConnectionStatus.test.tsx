import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ConnectionStatus } from "./ConnectionStatus";

afterEach(() => {
  vi.useRealTimers();
});

const status = () => screen.getByTestId("connection-status");

describe("ConnectionStatus", () => {
  it("says connected and names the connection for support", () => {
    render(<ConnectionStatus state={{ phase: "online" }} session="gw-1:42" onRetry={() => undefined} />);
    expect(status()).toHaveTextContent("Connected");
    expect(status()).toHaveAttribute("data-state", "online");
    expect(status()).toHaveAttribute("data-session", "gw-1:42");
    expect(screen.queryByRole("button", { name: "Retry now" })).toBeNull();
  });

  it("counts down to the next attempt and offers to try at once", async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date", "setInterval", "clearInterval"] });
    const onRetry = vi.fn();
    const state = { phase: "reconnecting", attempt: 2, retryAt: 1_003_000, reason: "closed" } as const;
    render(<ConnectionStatus state={state} session={null} onRetry={onRetry} />);
    expect(status()).toHaveTextContent("Reconnecting in 3 s…");
    act(() => vi.advanceTimersByTime(1000));
    expect(status()).toHaveTextContent("Reconnecting in 2 s…");
    await userEvent.setup({ advanceTimers: vi.advanceTimersByTime }).click(screen.getByRole("button", { name: "Retry now" }));
    expect(onRetry).toHaveBeenCalledOnce();
  });

  it("shows another try after a lost connection as reconnecting", () => {
    render(<ConnectionStatus state={{ phase: "connecting", attempt: 3 }} session={null} onRetry={() => undefined} />);
    expect(status()).toHaveAttribute("data-state", "reconnecting");
    expect(status()).toHaveTextContent("Reconnecting…");
  });

  it("says when it gave up", () => {
    render(<ConnectionStatus state={{ phase: "stopped", reason: "session_ended" }} session={null} onRetry={() => undefined} />);
    expect(status()).toHaveTextContent("Disconnected");
  });
});
