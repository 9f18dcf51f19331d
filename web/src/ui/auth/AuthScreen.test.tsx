import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";

import { AuthClient, type AccessGrant, type Fetch } from "../../core/auth";
import { AuthScreen } from "./AuthScreen";

const PASSWORD = "correct horse battery";

/** An auth service in miniature: accounts by name, a token for the right password. */
function authService() {
  const accounts = new Map<string, string>([["ann", PASSWORD]]);
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const fetch: Fetch = async (url, init) => {
    const { username, password } = JSON.parse(String(init.body)) as { username: string; password: string };
    if (url.endsWith("/users")) {
      if (accounts.has(username)) return json(409, { detail: "taken" });
      accounts.set(username, password);
      return json(201, { id: `u-${username}`, username });
    }
    if (accounts.get(username) !== password) return json(401, { detail: "bad credentials" });
    return json(200, { access_token: `token-${username}`, token_type: "bearer", expires_in: 900 });
  };
  return { accounts, auth: new AuthClient({ base: "/auth/v1", fetch, cookies: () => "" }) };
}

function setup(notice: string | null = null) {
  const service = authService();
  const signedIn = vi.fn<(grant: AccessGrant) => void>();
  render(<AuthScreen auth={service.auth} notice={notice} onSignedIn={signedIn} />);
  return { ...service, signedIn, user: userEvent.setup() };
}

const username = () => screen.getByRole("textbox", { name: "Username" });
const password = () => screen.getByLabelText("Password");

describe("AuthScreen", () => {
  it("signs in with the right password, whatever the case of the name", async () => {
    const { signedIn, user } = setup();
    await user.type(username(), "Ann");
    await user.type(password(), `${PASSWORD}{Enter}`);
    expect(signedIn).toHaveBeenCalledExactlyOnceWith({ accessToken: "token-ann", expiresInS: 900 });
  });

  it("says so when the password is wrong, and lets one try again", async () => {
    const { signedIn, user } = setup();
    await user.type(username(), "ann");
    await user.type(password(), "not the password");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    expect(signedIn).not.toHaveBeenCalled();
    await user.clear(password());
    await user.type(password(), PASSWORD);
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(signedIn).toHaveBeenCalledOnce();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("creates an account and signs in with it", async () => {
    const { accounts, signedIn, user } = setup();
    await user.click(screen.getByRole("button", { name: "Create an account" }));
    expect(screen.getByRole("heading", { name: "Create your account" })).toBeInTheDocument();
    await user.type(username(), "bob");
    await user.type(password(), PASSWORD);
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(accounts.get("bob")).toBe(PASSWORD);
    expect(signedIn).toHaveBeenCalledExactlyOnceWith({ accessToken: "token-bob", expiresInS: 900 });
  });

  it("refuses a name that is taken", async () => {
    const { signedIn, user } = setup();
    await user.click(screen.getByRole("button", { name: "Create an account" }));
    await user.type(username(), "ann");
    await user.type(password(), PASSWORD);
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That username is taken.");
    expect(signedIn).not.toHaveBeenCalled();
  });

  it("says why the person is back at the sign-in form", () => {
    setup("Your session has ended. Please sign in again.");
    expect(screen.getByText("Your session has ended. Please sign in again.")).toBeInTheDocument();
  });
});
