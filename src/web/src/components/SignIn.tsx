// Sign in or create an account: one form, two modes. It is also the page's first paint,
// rendered into index.html at build time, so it must render the same without a browser.
import { useId, useRef, useState } from "react";
import logoUrl from "../favicon.svg";
import type { FormEvent } from "react";

import { api } from "../api/client";
import { ApiError, type FieldError } from "../api/errors";
import { startSession } from "../api/session";

type Mode = "signin" | "signup";
type Field = "email" | "password" | "display_name";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function SignIn({ notice = "" }: { notice?: string }) {
  const [mode, setMode] = useState<Mode>("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState(notice);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const emailInput = useRef<HTMLInputElement>(null);
  const passwordInput = useRef<HTMLInputElement>(null);
  const nameInput = useRef<HTMLInputElement>(null);
  const signup = mode === "signup";

  const focusFirst = (found: Partial<Record<Field, string>>): void => {
    const input = found.display_name ? nameInput : found.password && !found.email ? passwordInput : emailInput;
    input.current?.focus();
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setFormError("");
    const found: Partial<Record<Field, string>> = {};
    if (!EMAIL.test(email.trim())) found.email = "Enter a valid email address, like name@example.com.";
    if (!password) found.password = "Enter your password.";
    else if (signup && password.length < 8) found.password = "Use at least 8 characters.";
    setErrors(found);
    if (Object.keys(found).length) return focusFirst(found);

    setBusy(true);
    try {
      const token = signup
        ? await api.register({ email: email.trim(), password, display_name: name.trim() })
        : await api.login({ email: email.trim(), password });
      startSession(token);
    } catch (err) {
      const failure = err instanceof ApiError ? err : null;
      const byField: Partial<Record<Field, string>> = {};
      const unplaced: FieldError[] = [];
      for (const e of failure?.fieldErrors ?? []) {
        if (e.field === "email" || e.field === "password" || e.field === "display_name") byField[e.field] = e.message;
        else unplaced.push(e);
      }
      if (failure?.code === "email_taken") byField.email = failure.message;
      setErrors(byField);
      if (!Object.keys(byField).length || unplaced.length) setFormError(failure?.message ?? String(err));
      focusFirst(byField);
      setBusy(false);
    }
  };

  const switchMode = (): void => {
    setMode(signup ? "signin" : "signup");
    setErrors({});
    setFormError("");
    emailInput.current?.focus();
  };

  const describedBy = (field: Field, hint?: string): string =>
    [hint, errors[field] ? `${id}-${field}-error` : ""].filter(Boolean).join(" ") || "";

  return (
    <main className="auth">
      <div className="auth-card">
        <p className="brand brand-large">
          <img src={logoUrl} alt="" width="36" height="36" /> Todo Cloud
        </p>
        <h1 id={`${id}-heading`}>{signup ? "Create your account" : "Sign in"}</h1>
        <form
          noValidate
          aria-labelledby={`${id}-heading`}
          aria-busy={busy || undefined}
          onSubmit={(e) => void submit(e)}
        >
          {signup ? (
            <div className="field">
              <label htmlFor={`${id}-name`}>
                Display name <span className="optional">(optional)</span>
              </label>
              <input
                ref={nameInput}
                id={`${id}-name`}
                name="display_name"
                autoComplete="name"
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
                aria-invalid={errors.display_name ? true : undefined}
                aria-describedby={describedBy("display_name") || undefined}
              />
              <FieldMessage id={`${id}-display_name-error`} text={errors.display_name} />
            </div>
          ) : null}
          <div className="field">
            <label htmlFor={`${id}-email`}>Email</label>
            <input
              ref={emailInput}
              id={`${id}-email`}
              data-testid="auth-email"
              type="email"
              name="email"
              autoComplete="email"
              inputMode="email"
              required
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
                if (errors.email) setErrors({ ...errors, email: "" });
              }}
              aria-invalid={errors.email ? true : undefined}
              aria-describedby={describedBy("email") || undefined}
            />
            <FieldMessage id={`${id}-email-error`} text={errors.email} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-password`}>Password</label>
            <input
              ref={passwordInput}
              id={`${id}-password`}
              data-testid="auth-password"
              type="password"
              name="password"
              autoComplete={signup ? "new-password" : "current-password"}
              required
              value={password}
              onChange={(e) => {
                setPassword(e.target.value);
                if (errors.password) setErrors({ ...errors, password: "" });
              }}
              aria-invalid={errors.password ? true : undefined}
              aria-describedby={describedBy("password", signup ? `${id}-password-hint` : undefined) || undefined}
            />
            {signup ? (
              <p className="hint" id={`${id}-password-hint`}>
                At least 8 characters.
              </p>
            ) : null}
            <FieldMessage id={`${id}-password-error`} text={errors.password} />
          </div>
          {formError ? (
            <p className="form-error" role="alert" data-testid="auth-error">
              {formError}
            </p>
          ) : null}
          <button type="submit" className="btn primary block" data-testid="auth-submit" disabled={busy}>
            {signup ? "Create account" : "Sign in"}
          </button>
        </form>
        <p className="auth-switch">
          <span>{signup ? "Already have an account?" : "New to Todo Cloud?"}</span>{" "}
          <button type="button" className="link" data-testid="auth-toggle" onClick={switchMode}>
            {signup ? "Sign in instead" : "Create an account"}
          </button>
        </p>
      </div>
    </main>
  );
}

export function FieldMessage({ id, text }: { id: string; text?: string | undefined }) {
  return text ? (
    <p className="field-error" id={id}>
      {text}
    </p>
  ) : null;
}
