// Sign-in: username and password; the session lives in an HttpOnly cookie.

import { ApiError, post } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

export async function render(root, ctx) {
  const error = h("p", { class: "error", role: "alert", id: "signin-error", hidden: true });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { class: "primary", type: "submit", id: "signin-submit" }, t("signin.submit"));
  const form = h(
    "form",
    { class: "card narrow", id: "signin-form" },
    h("h1", {}, t("signin.title")),
    h("label", { for: "username" }, t("signin.username")),
    username,
    h("label", { for: "password" }, t("signin.password")),
    password,
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      const user = await post("/api/v1/auth/login", { username: username.value.trim(), password: password.value });
      await ctx.signedIn(user);
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 401
          ? t("signin.wrong")
          : err instanceof ApiError && err.status === 429
            ? t("signin.throttled")
            : t("error.generic", { message: err.message });
      error.hidden = false;
      password.value = "";
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  username.focus();
}
