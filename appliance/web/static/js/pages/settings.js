// Settings: alert routes and quiet hours, detection thresholds and schedules, incident timers.

import { get, put } from "../api.js";
import { h } from "../dom.js";
import { t, tOr } from "../i18n.js";
import { humanize, readForm, valueForm } from "../forms.js";
import { usersSection } from "../users.js";

const SECTIONS = ["alerts", "vision", "incidents"];

export async function render(root, ctx) {
  const settings = await get("/api/v1/settings");
  const technician = ctx.user.role === "technician";
  root.append(h("h1", {}, t("nav.settings")));
  if (!technician) root.append(h("p", { class: "hint", id: "settings-read-only" }, t("settings.read_only")));
  const names = [...SECTIONS.filter((name) => name in settings), ...Object.keys(settings).filter((name) => !SECTIONS.includes(name))];
  for (const name of names) {
    let value = settings[name];
    const editable = technician && SECTIONS.includes(name);
    const message = h("p", { class: "message", role: "status" });
    const fields = h("div", {}, valueForm(value, [], `f-${name}`));
    const form = h("form", { class: "card settings-section", id: `settings-${name}`, dataset: { section: name } },
      h("h2", {}, tOr(`settings.${name}`, humanize(name))),
      h("p", { class: "hint" }, tOr(`settings.${name}_hint`, "")),
      fields,
      message,
      editable ? h("button", { type: "submit", class: "primary", id: `save-${name}` }, t("settings.save")) : null);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.className = "message";
      try {
        const body = readForm(fields, value);
        const reply = await put(`/api/v1/settings/${name}`, body);
        value = reply && typeof reply === "object" && !Array.isArray(reply) ? (reply[name] ?? reply) : body;
        fields.replaceChildren(valueForm(value, [], `f-${name}`));
        message.textContent = t("settings.saved");
        message.classList.add("ok");
      } catch (err) {
        message.textContent = t("error.save", { message: err.message });
        message.classList.add("error");
      }
    });
    if (!editable) for (const input of form.querySelectorAll("input, textarea, select")) input.disabled = true;
    root.append(form);
  }
  if (technician) root.append(usersSection(ctx));
}
