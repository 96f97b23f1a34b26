// First run: create the first user (a technician) and sign in as them.

import { post } from "../api.js";
import { h } from "../dom.js";
import { LANGUAGES, language, setLanguage, t } from "../i18n.js";

export async function render(root, ctx) {
  const error = h("p", { class: "error", role: "alert", id: "setup-error", hidden: true });
  const username = h("input", { id: "setup-username", autocomplete: "username", required: true, autocapitalize: "none", minlength: 1 });
  const password = h("input", { id: "setup-password", type: "password", autocomplete: "new-password", required: true });
  const repeat = h("input", { id: "setup-repeat", type: "password", autocomplete: "new-password", required: true });
  const lang = h(
    "select",
    {
      id: "setup-language",
      onchange: async (e) => {
        await setLanguage(e.target.value);
        ctx.rerender();
      },
    },
    LANGUAGES.map((code) => h("option", { value: code, selected: code === language() }, t(`language.${code}`))),
  );
  const button = h("button", { class: "primary", type: "submit", id: "setup-submit" }, t("setup.submit"));
  const form = h(
    "form",
    { class: "card narrow", id: "setup-form" },
    h("h1", {}, t("setup.title")),
    h("p", {}, t("setup.intro")),
    h("label", { for: "setup-username" }, t("signin.username")),
    username,
    h("label", { for: "setup-password" }, t("signin.password")),
    password,
    h("label", { for: "setup-repeat" }, t("setup.repeat")),
    repeat,
    h("label", { for: "setup-language" }, t("shell.language")),
    lang,
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (password.value !== repeat.value) {
      error.textContent = t("setup.mismatch");
      error.hidden = false;
      return;
    }
    button.disabled = true;
    try {
      const user = await post("/api/v1/auth/setup", {
        username: username.value.trim(),
        password: password.value,
        language: language(),
      });
      await ctx.signedIn(user);
    } catch (err) {
      error.textContent = t("error.generic", { message: err.message });
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  username.focus();
}
