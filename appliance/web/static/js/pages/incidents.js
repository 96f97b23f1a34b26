// The incidents feed: filters by state, paging, and live updates from the push channel.

import { get } from "../api.js";
import { h, icon } from "../dom.js";
import { t } from "../i18n.js";
import { incidentRow } from "../incident-view.js";

const FILTERS = {
  active: ["open", "acknowledged"],
  open: ["open"],
  acknowledged: ["acknowledged"],
  resolved: ["resolved"],
  all: [],
};
const PAGE = 20;

export async function render(root, ctx, params, query) {
  const filter = FILTERS[query.get("state")] ? query.get("state") : "active";
  const states = FILTERS[filter];
  const list = h("ul", { class: "incidents", id: "incident-list" });
  const empty = h("p", { class: "empty", id: "incidents-empty", hidden: true }, t("incidents.empty"));
  const more = h("button", { type: "button", class: "secondary", id: "incidents-more", hidden: true }, t("incidents.more"));
  let before = null;

  const chips = h(
    "div",
    { class: "chips", role: "group", "aria-label": t("incidents.filter") },
    Object.keys(FILTERS).map((key) =>
      h("a", { href: `#/incidents?state=${key}`, class: key === filter ? "chip active" : "chip", "aria-current": key === filter ? "true" : undefined, dataset: { filter: key } }, t(`filter.${key}`)),
    ),
  );
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, t("nav.incidents")), notificationButton()),
    chips,
    list,
    empty,
    more,
  );

  async function load() {
    const search = new URLSearchParams({ limit: String(PAGE) });
    for (const state of states) search.append("state", state);
    if (before) search.set("before", before);
    const page = await get(`/api/v1/incidents?${search}`);
    for (const incident of page.items) {
      if (!list.querySelector(`[data-incident-id="${incident.incident_id}"]`)) list.append(incidentRow(incident));
    }
    before = page.next_before;
    more.hidden = !before;
    empty.hidden = list.children.length > 0;
  }

  more.addEventListener("click", () => load().catch((err) => ctx.toast(t("error.load", { message: err.message }), "error")));

  function onIncident(event) {
    const { incident } = event.detail;
    const existing = list.querySelector(`[data-incident-id="${incident.incident_id}"]`);
    const wanted = states.length === 0 || states.includes(incident.state);
    if (existing && wanted) existing.replaceWith(incidentRow(incident));
    else if (existing) existing.remove();
    else if (wanted) list.prepend(incidentRow(incident));
    empty.hidden = list.children.length > 0;
  }
  window.addEventListener("byre:incident", onIncident);
  await load();
  return () => window.removeEventListener("byre:incident", onIncident);
}

function notificationButton() {
  if (!("Notification" in window) || Notification.permission !== "default") return null;
  const button = h("button", { type: "button", class: "secondary", id: "notify-enable" }, icon("bell"), t("incidents.enable_notifications"));
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    button.remove();
  });
  return button;
}

