// Sign in or create an account.

import { useState, type FormEvent } from "react";

import { AuthError, type AccessGrant, type AuthClient } from "../../core/auth";

type Mode = "sign-in" | "register";

export function AuthScreen({
  auth,
  notice,
  onSignedIn,
}: {
  auth: Pick<AuthClient, "register" | "login">;
  notice: string | null;
  onSignedIn: (grant: AccessGrant) => void;
}) {
  const [mode, setMode] = useState<Mode>("sign-in");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const name = username.trim().toLowerCase();
    try {
      if (mode === "register") await auth.register(name, password);
      onSignedIn(await auth.login(name, password));
    } catch (failure) {
      setError(failure instanceof AuthError ? failure.message : "Something went wrong; try again.");
      setBusy(false);
    }
  };

  const registering = mode === "register";
  return (
    <main className="auth">
      <form className="auth-card" onSubmit={(event) => void submit(event)} aria-labelledby="auth-title">
        <div className="brand">
          <div className="brand-mark" aria-hidden="true" />
          <span>Chat</span>
        </div>
        <h1 id="auth-title">{registering ? "Create your account" : "Welcome back"}</h1>
        <p className="muted">
          {registering ? "Pick a username and a password to start chatting." : "Sign in to pick up where you left off."}
        </p>
        {notice && <p className="auth-notice">{notice}</p>}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            required
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_.\-]+"
            title="3–32 characters: letters, digits, _ . -"
            value={username}
            onChange={(event) => setUsername(event.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            required
            minLength={8}
            maxLength={128}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
          />
        </label>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <button className="primary wide" type="submit" disabled={busy}>
          {busy ? "One moment…" : registering ? "Create account" : "Sign in"}
        </button>
        <p className="switch">
          {registering ? "Already have an account?" : "New here?"}{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setMode(registering ? "sign-in" : "register");
              setError(null);
            }}
          >
            {registering ? "Sign in" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}
