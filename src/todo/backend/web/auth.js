// Sign in / create account: one form, two modes.

import { api, session } from "./api.js";
import { byId } from "./dom.js";

const FIELD_INPUTS = { email: "auth-email", password: "auth-password", display_name: "auth-name" };

export class AuthView {
  #mode = "signin";

  constructor({ onSignedIn }) {
    this.onSignedIn = onSignedIn;
    this.view = byId("auth-view");
    this.form = byId("auth-form");
    this.heading = byId("auth-heading");
    this.email = byId("auth-email");
    this.password = byId("auth-password");
    this.name = byId("auth-name");
    this.nameField = byId("auth-name-field");
    this.passwordHint = byId("auth-password-hint");
    this.submit = byId("auth-submit");
    this.toggle = byId("auth-toggle");
    this.switchText = byId("auth-switch-text");
    this.error = byId("auth-error");

    this.toggle.addEventListener("click", () => {
      this.setMode(this.#mode === "signin" ? "signup" : "signin");
      this.email.focus();
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.#submit();
    });
    this.form.addEventListener("input", (e) => {
      if (e.target.hasAttribute("aria-invalid")) this.#clearError(e.target);
    });
    this.setMode("signin");
  }

  setMode(mode) {
    this.#mode = mode;
    const signup = mode === "signup";
    this.heading.textContent = signup ? "Create your account" : "Sign in";
    this.submit.textContent = signup ? "Create account" : "Sign in";
    this.switchText.textContent = signup ? "Already have an account?" : "New to Todo Cloud?";
    this.toggle.textContent = signup ? "Sign in instead" : "Create an account";
    this.nameField.hidden = !signup;
    this.passwordHint.hidden = !signup;
    this.password.autocomplete = signup ? "new-password" : "current-password";
    this.#clearErrors();
  }

  show(message = "") {
    this.view.hidden = false;
    this.password.value = "";
    this.#clearErrors();
    if (message) this.#formError(message);
    this.email.focus();
  }

  hide() {
    this.view.hidden = true;
  }

  async #submit() {
    this.#clearErrors();
    const signup = this.#mode === "signup";
    const email = this.email.value.trim();
    const password = this.password.value;
    const problems = [];
    if (!email || !this.email.validity.valid) problems.push(["email", "Enter a valid email address."]);
    if (!password) problems.push(["password", "Enter your password."]);
    else if (signup && password.length < 8) problems.push(["password", "Use at least 8 characters."]);
    if (problems.length) {
      for (const [field, message] of problems) this.#fieldError(field, message);
      return this.form.querySelector("[aria-invalid]").focus();
    }

    this.submit.disabled = true;
    this.form.setAttribute("aria-busy", "true");
    try {
      const body = signup ? { email, password, display_name: this.name.value.trim() } : { email, password };
      const token = await (signup ? api.register(body) : api.login(body));
      session.save(token.access_token, token.user);
      this.password.value = "";
      this.onSignedIn(token.user);
    } catch (err) {
      if (err.status === 409) this.#fieldError("email", "An account with this email already exists. Sign in instead?");
      else if (err.status === 401) this.#formError("Wrong email or password.");
      else if (err.fieldErrors?.length) {
        for (const e of err.fieldErrors) {
          if (!this.#fieldError(e.field, e.message)) this.#formError(e.message);
        }
      } else this.#formError(err.message);
      (this.form.querySelector("[aria-invalid]") ?? this.email).focus();
    } finally {
      this.submit.disabled = false;
      this.form.removeAttribute("aria-busy");
    }
  }

  /** Show a message under a field; false when there is no such field. */
  #fieldError(field, message) {
    const id = FIELD_INPUTS[field];
    if (!id) return false;
    const input = byId(id);
    input.setAttribute("aria-invalid", "true");
    byId(`${id}-error`).textContent = message.charAt(0).toUpperCase() + message.slice(1);
    return true;
  }

  #formError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
  }

  #clearError(input) {
    input.removeAttribute("aria-invalid");
    byId(`${input.id}-error`).textContent = "";
  }

  #clearErrors() {
    this.error.textContent = "";
    this.error.hidden = true;
    for (const id of Object.values(FIELD_INPUTS)) this.#clearError(byId(id));
  }
}
