// Signing in, staying signed in and signing out against the auth service, in its browser mode:
// the refresh token lives in an HttpOnly cookie the page never sees; the page sends the readable
// CSRF cookie back as X-CSRF-Token. The access token lives in memory only.

import { SignedOut, type Clock } from "./connection";
import type { UserRef } from "./protocol";

export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export interface AccessGrant {
  accessToken: string;
  expiresInS: number;
}

export interface Claims {
  sub: string;
  name: string;
  exp: number;
}

export type AuthFailure =
  | "taken"
  | "invalid"
  | "bad_credentials"
  | "throttled"
  | "forbidden"
  | "unavailable";

export class AuthError extends Error {
  readonly failure: AuthFailure;
  readonly retryAfterS: number | undefined;

  constructor(failure: AuthFailure, message: string, retryAfterS?: number) {
    super(message);
    this.name = "AuthError";
    this.failure = failure;
    this.retryAfterS = retryAfterS;
  }
}

/** Serialises refreshes across the tabs of one browser (the Web Locks API where present). */
export type RunExclusive = <T>(name: string, task: () => Promise<T>) => Promise<T>;

export interface AuthClientOptions {
  /** Where the auth service's `/v1` routes are, as seen by the page: `/auth/v1`. */
  base: string;
  fetch: Fetch;
  /** `document.cookie`. */
  cookies: () => string;
  runExclusive?: RunExclusive;
}

// Refresh tokens rotate: two tabs refreshing with the same cookie at the same moment would look
// like token reuse and end the session, so one refresh at a time per browser.
const REFRESH_LOCK = "chat-auth-refresh";

export class AuthClient {
  private readonly options: AuthClientOptions;
  private inFlight: Promise<AccessGrant> | null = null;

  constructor(options: AuthClientOptions) {
    this.options = options;
  }

  async register(username: string, password: string): Promise<UserRef> {
    const response = await this.post("/users", { username, password });
    if (response.status === 201) {
      const body = (await response.json()) as { id: string; username: string };
      return { id: body.id, name: body.username };
    }
    if (response.status === 409) throw new AuthError("taken", "That username is taken.");
    if (response.status === 422) throw new AuthError("invalid", await problem(response, INVALID));
    throw await unexpected(response);
  }

  async login(username: string, password: string): Promise<AccessGrant> {
    const response = await this.post("/token", { username, password, cookie: true });
    if (response.ok) return grant(response);
    if (response.status === 401) {
      throw new AuthError("bad_credentials", "Wrong username or password.");
    }
    if (response.status === 429) {
      const retryAfterS = Number(response.headers.get("Retry-After")) || undefined;
      const wait = retryAfterS === undefined ? "a little while" : `${retryAfterS} s`;
      throw new AuthError("throttled", `Too many attempts; try again in ${wait}.`, retryAfterS);
    }
    if (response.status === 422) throw new AuthError("invalid", await problem(response, INVALID));
    throw await unexpected(response);
  }

  /** A new access token from the refresh cookie; rejects with SignedOut when there is none. */
  refresh(): Promise<AccessGrant> {
    if (this.inFlight === null) {
      const run = this.options.runExclusive ?? ((_name, task) => task());
      this.inFlight = run(REFRESH_LOCK, () => this.refreshOnce()).finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  async logout(): Promise<void> {
    const response = await this.post("/logout", { cookie: true }, this.csrfHeaders());
    if (response.status === 204 || response.status === 401 || response.status === 403) return;
    throw await unexpected(response);
  }

  private async refreshOnce(): Promise<AccessGrant> {
    const csrf = csrfToken(this.options.cookies());
    if (csrf === null) throw new SignedOut("no session cookie");
    const response = await this.post("/token/refresh", { cookie: true }, this.csrfHeaders());
    if (response.ok) return grant(response);
    if (response.status === 401 || response.status === 403) throw new SignedOut("session ended");
    throw await unexpected(response);
  }

  private csrfHeaders(): Record<string, string> {
    const csrf = csrfToken(this.options.cookies());
    return csrf === null ? {} : { "X-CSRF-Token": csrf };
  }

  private async post(
    path: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    try {
      return await this.options.fetch(`${this.options.base}${path}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
      });
    } catch {
      throw new AuthError("unavailable", "Cannot reach the sign-in service.");
    }
  }
}

const INVALID =
  "Usernames are 3–32 characters of a–z, 0–9, _ . -; passwords are 8–128 characters.";

/** The CSRF cookie's value; the auth service names it with "csrf" in its name. */
export function csrfToken(cookieHeader: string): string | null {
  for (const part of cookieHeader.split(";")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (/csrf/i.test(name)) {
      const value = part.slice(at + 1).trim();
      return value === "" ? null : decodeURIComponent(value);
    }
  }
  return null;
}

/** The claims of an access token, read for display and timing only (the gateway verifies it). */
export function decodeClaims(token: string): Claims | null {
  const payload = token.split(".")[1];
  if (payload === undefined) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(
      Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), (c) => c.charCodeAt(0)),
    );
    const claims = JSON.parse(text) as Partial<Claims>;
    if (typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
    return { sub: claims.sub, name: typeof claims.name === "string" ? claims.name : claims.sub, exp: claims.exp };
  } catch {
    return null;
  }
}

// Refresh when 80 % of the lifetime has passed, but at least a minute before expiry so a slow
// network or a throttled background tab still makes it; never more often than every 5 s.
export function refreshDelayMs(expiresInS: number): number {
  const lifetimeMs = expiresInS * 1000;
  return Math.max(5000, Math.min(lifetimeMs * 0.8, lifetimeMs - 60_000));
}

async function grant(response: Response): Promise<AccessGrant> {
  const body = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
  if (typeof body.access_token !== "string") {
    throw new AuthError("unavailable", "The sign-in service answered without a token.");
  }
  const expiresInS = typeof body.expires_in === "number" ? body.expires_in : 300;
  return { accessToken: body.access_token, expiresInS };
}

async function problem(response: Response, fallback: string): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown; detail?: unknown };
    if (typeof body.message === "string" && body.message !== "") return body.message;
    if (typeof body.detail === "string" && body.detail !== "") return body.detail;
  } catch {
    // Not JSON: the fallback says it in general words.
  }
  return fallback;
}

async function unexpected(response: Response): Promise<AuthError> {
  if (response.status === 403) {
    return new AuthError("forbidden", await problem(response, "The request was refused."));
  }
  return new AuthError("unavailable", `The sign-in service answered ${response.status}; try again.`);
}

export interface TokenKeeperOptions {
  auth: Pick<AuthClient, "refresh">;
  clock: Clock;
  /** A scheduled refresh produced a new token (to hand to the open WebSocket). */
  onRefreshed(token: string): void;
  /** The session is over: the refresh cookie was refused. */
  onSignedOut(): void;
}

// After a failed scheduled refresh (the auth service unreachable), try again this much later.
const REFRESH_RETRY_MS = 10_000;

/** Holds the access token in memory and renews it ahead of its expiry. */
export class TokenKeeper {
  private readonly options: TokenKeeperOptions;
  private token: string | null = null;
  private expiresAt = 0;
  private timer: unknown = null;

  constructor(options: TokenKeeperOptions) {
    this.options = options;
  }

  get current(): string | null {
    return this.token;
  }

  /** Keeps a grant from a sign-in or refresh and schedules the next refresh. */
  accept(grant: AccessGrant): string {
    const { clock } = this.options;
    this.token = grant.accessToken;
    this.expiresAt = clock.now() + grant.expiresInS * 1000;
    clock.clearTimeout(this.timer);
    this.timer = clock.setTimeout(() => void this.scheduledRefresh(), refreshDelayMs(grant.expiresInS));
    return grant.accessToken;
  }

  /** A usable access token; `fresh` forces a refresh (the last one was refused). */
  async accessToken(fresh = false): Promise<string> {
    if (!fresh && this.token !== null && this.options.clock.now() < this.expiresAt - 5000) {
      return this.token;
    }
    return this.renew();
  }

  clear(): void {
    this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.token = null;
    this.expiresAt = 0;
  }

  private async renew(): Promise<string> {
    try {
      return this.accept(await this.options.auth.refresh());
    } catch (error) {
      if (error instanceof SignedOut) {
        this.clear();
        this.options.onSignedOut();
      }
      throw error;
    }
  }

  private async scheduledRefresh(): Promise<void> {
    try {
      this.options.onRefreshed(await this.renew());
    } catch (error) {
      if (error instanceof SignedOut) return;
      this.timer = this.options.clock.setTimeout(() => void this.scheduledRefresh(), REFRESH_RETRY_MS);
    }
  }
}
