import { describe, expect, it } from "vitest";

import { AuthClient, AuthError, TokenKeeper, csrfToken, decodeClaims, refreshDelayMs, type Fetch } from "./auth";
import { SignedOut } from "./connection";
import { FakeClock, settle } from "../test/fakes";

interface Call {
  url: string;
  init: RequestInit;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function client(answer: (call: Call) => Response, cookies = "csrf_token=abc123") {
  const calls: Call[] = [];
  const fetch: Fetch = async (url, init) => {
    const call = { url, init };
    calls.push(call);
    return answer(call);
  };
  return { calls, auth: new AuthClient({ base: "/auth/v1", fetch, cookies: () => cookies }) };
}

const body = (call: Call): unknown => JSON.parse(String(call.init.body));
const header = (call: Call, name: string): string | undefined =>
  (call.init.headers as Record<string, string>)[name];

describe("AuthClient", () => {
  it("signs in asking for the refresh token as a cookie", async () => {
    const { auth, calls } = client(() => json(200, { access_token: "a.b.c", token_type: "bearer", expires_in: 900 }));
    expect(await auth.login("ann", "correct horse")).toEqual({ accessToken: "a.b.c", expiresInS: 900 });
    expect(calls[0]!.url).toBe("/auth/v1/token");
    expect(body(calls[0]!)).toEqual({ username: "ann", password: "correct horse", cookie: true });
    expect(calls[0]!.init.credentials).toBe("same-origin");
  });

  it("refreshes from the cookie with the CSRF header", async () => {
    const { auth, calls } = client(() => json(200, { access_token: "t2", expires_in: 900 }));
    await auth.refresh();
    expect(calls[0]!.url).toBe("/auth/v1/token/refresh");
    expect(body(calls[0]!)).toEqual({ cookie: true });
    expect(header(calls[0]!, "X-CSRF-Token")).toBe("abc123");
  });

  it("runs one refresh for callers asking at the same time", async () => {
    const { auth, calls } = client(() => json(200, { access_token: "t2", expires_in: 900 }));
    const [a, b] = await Promise.all([auth.refresh(), auth.refresh()]);
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
  });

  it("reports a refused or missing session as signed out", async () => {
    const refused = client(() => json(401, { message: "spent" }));
    await expect(refused.auth.refresh()).rejects.toBeInstanceOf(SignedOut);
    const noCookie = client(() => json(200, {}), "theme=dark");
    await expect(noCookie.auth.refresh()).rejects.toBeInstanceOf(SignedOut);
    expect(noCookie.calls).toHaveLength(0);
  });

  it("explains failed sign-ins and sign-ups", async () => {
    const wrong = client(() => json(401, {}));
    await expect(wrong.auth.login("ann", "nope-nope")).rejects.toMatchObject({ failure: "bad_credentials" });
    const throttled = client(() => json(429, {}, { "Retry-After": "30" }));
    await expect(throttled.auth.login("ann", "nope-nope")).rejects.toMatchObject({
      failure: "throttled",
      retryAfterS: 30,
    });
    const taken = client(() => json(409, {}));
    await expect(taken.auth.register("ann", "long enough")).rejects.toMatchObject({ failure: "taken" });
    const invalid = client(() => json(422, { message: "username: too short" }));
    await expect(invalid.auth.register("a", "long enough")).rejects.toEqual(
      new AuthError("invalid", "username: too short"),
    );
  });

  it("logs out with the cookie and the CSRF header", async () => {
    const { auth, calls } = client(() => json(204, null));
    await auth.logout();
    expect(calls[0]!.url).toBe("/auth/v1/logout");
    expect(header(calls[0]!, "X-CSRF-Token")).toBe("abc123");
  });
});

describe("csrfToken", () => {
  it("finds the readable CSRF cookie among others", () => {
    expect(csrfToken("theme=dark; chat_csrf=x%2By; other=1")).toBe("x+y");
    expect(csrfToken("__Host-csrf=q")).toBe("q");
    expect(csrfToken("theme=dark")).toBeNull();
    expect(csrfToken("")).toBeNull();
  });
});

describe("decodeClaims", () => {
  it("reads the subject, name and expiry of an access token", () => {
    const utf8 = new TextEncoder().encode(JSON.stringify({ sub: "u-1", name: "zoë", exp: 1700000000 }));
    const payload = btoa(String.fromCharCode(...utf8))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    expect(decodeClaims(`h.${payload}.s`)).toEqual({ sub: "u-1", name: "zoë", exp: 1700000000 });
    expect(decodeClaims("garbage")).toBeNull();
  });
});

describe("token refresh timing", () => {
  it("renews well before expiry", () => {
    expect(refreshDelayMs(900)).toBe(720_000);
    expect(refreshDelayMs(120)).toBe(60_000);
    expect(refreshDelayMs(3)).toBe(5000);
  });

  it("keeps the token fresh and hands each new one on", async () => {
    const clock = new FakeClock();
    let n = 0;
    const refreshed: string[] = [];
    const keeper = new TokenKeeper({
      auth: { refresh: async () => ({ accessToken: `t${++n}`, expiresInS: 900 }) },
      clock,
      onRefreshed: (token) => refreshed.push(token),
      onSignedOut: () => refreshed.push("signed out"),
    });
    keeper.accept({ accessToken: "t0", expiresInS: 900 });
    expect(await keeper.accessToken()).toBe("t0");
    await clock.advance(720_000);
    expect(refreshed).toEqual(["t1"]);
    expect(await keeper.accessToken()).toBe("t1");
    expect(await keeper.accessToken(true)).toBe("t2");
  });

  it("ends the session when the refresh is refused", async () => {
    const clock = new FakeClock();
    const events: string[] = [];
    const keeper = new TokenKeeper({
      auth: {
        refresh: async () => {
          throw new SignedOut();
        },
      },
      clock,
      onRefreshed: () => events.push("refreshed"),
      onSignedOut: () => events.push("signed out"),
    });
    keeper.accept({ accessToken: "t0", expiresInS: 900 });
    await clock.advance(720_000);
    await settle();
    expect(events).toEqual(["signed out"]);
    expect(keeper.current).toBeNull();
  });
});
