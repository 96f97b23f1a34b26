// System: health of every component, sync status and backlog, parked events, disk, plugins.

import { ApiError, get } from "../api.js";
import { h, clear } from "../dom.js";
import { t, tOr } from "../i18n.js";
import { humanize, valueView } from "../forms.js";

export async function render(root) {
  const cards = h("div", { class: "system", id: "system-cards" });
  const parked = h("section", { class: "card", id: "parked" });
  root.append(h("h1", {}, t("nav.system")), cards, parked);

  async function load() {
    const [system, held] = await Promise.all([get("/api/v1/system"), get("/api/v1/sync/parked").catch(() => ({ items: [] }))]);
    clear(cards);
    for (const [key, value] of Object.entries(system)) {
      cards.append(h("section", { class: "card", dataset: { system: key } }, h("h2", {}, tOr(`system.${key}`, humanize(key))), valueView(value, key)));
    }
    clear(parked).append(h("h2", {}, t("system.parked_events")));
    if (held.items.length === 0) parked.append(h("p", { class: "empty" }, t("system.no_parked")));
    else parked.append(valueView(held.items.map((e) => ({ seq: e.seq, type: e.type, occurred_at: e.occurred_at, reason: e.reason }))));
  }

  try {
    await load();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      cards.append(h("p", { class: "empty" }, t("system.unavailable")));
      return;
    }
    throw err;
  }
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
