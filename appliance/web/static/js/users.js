// Local users (technicians only): who may sign in, with which role; add and remove.

import { del, get, post } from "./api.js";
import { h, clear, icon } from "./dom.js";
import { formatTime, t } from "./i18n.js";

const ROLES = ["farmer", "technician"];

export function usersSection(ctx) {
  const list = h("ul", { class: "users", id: "user-list" });
  const message = h("p", { class: "message", role: "status", id: "users-message" });
  const username = h("input", { id: "new-username", autocomplete: "off", autocapitalize: "none", required: true });
  const password = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const role = h("select", { id: "new-role" }, ROLES.map((r) => h("option", { value: r }, t(`role.${r}`))));
  const form = h("form", { class: "user-form", id: "user-form" },
    h("h3", {}, t("users.add")),
    h("label", { for: "new-username" }, t("signin.username")), username,
    h("label", { for: "new-password" }, t("signin.password")), password,
    h("label", { for: "new-role" }, t("users.role")), role,
    h("button", { type: "submit", class: "primary", id: "user-add" }, icon("plus"), t("users.add")));
  const section = h("section", { class: "card", id: "users" }, h("h2", {}, t("users.title")), list, form, message);

  async function load() {
    const reply = await get("/api/v1/users");
    clear(list);
    for (const user of reply.items) {
      list.append(
        h("li", { class: "user", dataset: { username: user.username, role: user.role } },
          h("span", { class: "user-name" }, user.username),
          h("span", { class: "badge" }, t(`role.${user.role}`)),
          user.created_at ? h("span", { class: "muted" }, formatTime(user.created_at)) : null,
          user.username === ctx.user.username
            ? null
            : h("button", { type: "button", class: "secondary", "aria-label": t("users.remove", { name: user.username }), onclick: () => remove(user.username) }, icon("trash"))),
      );
    }
  }

  async function remove(name) {
    if (!confirm(t("users.confirm_remove", { name }))) return;
    try {
      await del(`/api/v1/users/${encodeURIComponent(name)}`);
      await load();
    } catch (err) {
      message.className = "message error";
      message.textContent = t("error.generic", { message: err.message });
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.className = "message";
    try {
      await post("/api/v1/users", { username: username.value.trim(), password: password.value, role: role.value });
      message.classList.add("ok");
      message.textContent = t("users.added", { name: username.value.trim() });
      username.value = "";
      password.value = "";
      await load();
    } catch (err) {
      message.classList.add("error");
      message.textContent = t("error.save", { message: err.message });
    }
  });

  load().catch((err) => {
    message.className = "message error";
    message.textContent = t("error.load", { message: err.message });
  });
  return section;
}
