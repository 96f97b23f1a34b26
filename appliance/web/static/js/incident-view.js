// How an incident looks in lists: severity bar, title, kind, state and times.

import { h } from "./dom.js";
import { formatTime, t } from "./i18n.js";

export const STATES = ["open", "acknowledged", "resolved"];

export function stateBadge(state) {
  return h("span", { class: `badge state-${state}`, dataset: { state } }, t(`state.${state}`));
}

export function severityBadge(severity) {
  return h("span", { class: `badge severity-${severity}` }, t(`severity.${severity}`));
}

export function incidentRow(incident) {
  return h(
    "li",
    {
      class: `incident severity-${incident.severity} is-${incident.state}`,
      dataset: { incidentId: incident.incident_id, state: incident.state, kind: incident.kind },
    },
    h(
      "a",
      { href: `#/incidents/${incident.incident_id}`, class: "incident-link" },
      h("span", { class: "incident-title" }, incident.title),
      h(
        "span",
        { class: "incident-meta" },
        severityBadge(incident.severity),
        stateBadge(incident.state),
        h("span", { class: "kind" }, t(`kind.${incident.kind}`)),
        h("time", { datetime: incident.opened_at }, formatTime(incident.opened_at)),
        incident.occurrences > 1 ? h("span", { class: "count" }, t("incident.occurrences_short", { n: incident.occurrences })) : null,
      ),
    ),
  );
}

/** Active incidents first (open, then acknowledged), newest first inside each group. */
export function byUrgency(a, b) {
  const rank = { open: 0, acknowledged: 1, resolved: 2 };
  return rank[a.state] - rank[b.state] || String(b.opened_at).localeCompare(String(a.opened_at));
}
