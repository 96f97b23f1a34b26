// One incident: its facts, snapshot and clip, acknowledge, and resolve with a note.

import { ApiError, get, post } from "../api.js";
import { h, clear, icon } from "../dom.js";
import { formatBytes, formatTime, t } from "../i18n.js";
import { severityBadge, stateBadge } from "../incident-view.js";

const MEDIA_WAIT_MS = 5 * 60 * 1000;

export async function render(root, ctx, [incidentId]) {
  const facts = h("dl", { class: "facts", id: "incident-facts" });
  const actions = h("div", { class: "actions", id: "incident-actions" });
  const media = h("div", { class: "media", id: "incident-media" });
  const title = h("h1", { id: "incident-title" });
  const badges = h("div", { class: "badges" });
  let incident = await get(`/api/v1/incidents/${incidentId}`);
  let mediaTimer = null;

  root.append(
    h("a", { href: "#/incidents", class: "back" }, icon("back"), t("incident.back")),
    h("article", { class: "card incident-detail", dataset: { incidentId } }, title, badges, facts, actions),
    h("section", { class: "card" }, h("h2", {}, t("incident.media")), media),
  );

  function show() {
    title.textContent = incident.title;
    clear(badges).append(severityBadge(incident.severity), stateBadge(incident.state), h("span", { class: "kind" }, t(`kind.${incident.kind}`)));
    clear(facts);
    const rows = [
      ["incident.opened_at", formatTime(incident.opened_at)],
      ["incident.updated_at", formatTime(incident.updated_at)],
      ["incident.occurrences", incident.occurrences],
      ["incident.escalation", incident.escalation_level],
      ["incident.acknowledged_by", incident.acknowledged_by || "—"],
      ["incident.note", incident.note || "—"],
    ];
    for (const [key, value] of rows) facts.append(h("dt", {}, t(key)), h("dd", { dataset: { fact: key.split(".")[1] } }, String(value)));
    showActions();
  }

  function showActions() {
    clear(actions);
    if (incident.state === "open") {
      actions.append(
        h("button", { type: "button", class: "primary", id: "acknowledge", onclick: acknowledge }, icon("check"), t("incident.acknowledge")),
      );
    }
    if (incident.state !== "resolved") {
      const note = h("textarea", { id: "resolve-note", rows: 3, maxlength: 2000, placeholder: t("incident.note_placeholder") });
      actions.append(
        h("form", { class: "resolve", id: "resolve-form", onsubmit: (e) => { e.preventDefault(); resolve(note.value.trim()); } },
          h("label", { for: "resolve-note" }, t("incident.resolve_note")),
          note,
          h("button", { type: "submit", class: "secondary", id: "resolve" }, t("incident.resolve"))),
      );
    }
  }

  async function act(path, body) {
    try {
      incident = await post(`/api/v1/incidents/${incidentId}/${path}`, body);
      show();
      ctx.toast(t(`incident.done_${path}`), "ok");
    } catch (err) {
      ctx.toast(t("error.generic", { message: err.message }), "error");
    }
  }
  const acknowledge = () => act("acknowledge", { by: ctx.user.username });
  const resolve = (note) => act("resolve", note ? { by: ctx.user.username, note } : { by: ctx.user.username });

  async function loadMedia() {
    let items = [];
    try {
      items = (await get(`/api/v1/incidents/${incidentId}/media`)).items || [];
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    renderMedia(items);
    // a clip is recording, or a camera incident may still get its media: look again soon
    const pending = items.some((m) => m.state === "recording");
    const young = Date.now() - new Date(incident.updated_at).getTime() < MEDIA_WAIT_MS;
    clearTimeout(mediaTimer);
    if (pending || (items.length === 0 && young)) mediaTimer = setTimeout(() => loadMedia().catch(() => {}), 3000);
  }

  function renderMedia(items) {
    const current = media.querySelector("video");
    const playing = current && !current.paused;
    if (playing) return; // do not interrupt a clip someone is watching
    clear(media);
    if (items.length === 0) {
      media.append(h("p", { class: "empty", id: "media-empty" }, t("incident.no_media")));
      return;
    }
    for (const item of items) {
      const caption = h("figcaption", {}, `${t(`media.${item.kind}`)} · ${formatTime(item.started_at)} · ${item.state === "ready" ? formatBytes(item.size_bytes) : t("media.recording")}`);
      if (item.kind === "snapshot" && item.state === "ready") {
        media.append(h("figure", {}, h("img", { src: item.url, alt: t("media.snapshot"), class: "snapshot", id: "incident-snapshot" }), caption));
      } else if (item.kind === "clip" && item.state === "ready") {
        media.append(
          h("figure", {}, h("video", { src: item.url, controls: true, preload: "metadata", playsinline: true, class: "clip", id: "incident-clip", type: item.content_type }), caption),
        );
      } else {
        media.append(h("figure", { class: "pending" }, caption));
      }
    }
  }

  function onIncident(event) {
    if (event.detail.incident.incident_id !== incidentId) return;
    incident = event.detail.incident;
    show();
  }
  function onMedia(event) {
    if (event.detail.incident_id === incidentId) loadMedia().catch(() => {});
  }
  window.addEventListener("byre:incident", onIncident);
  window.addEventListener("byre:media", onMedia);
  show();
  await loadMedia();
  return () => {
    clearTimeout(mediaTimer);
    window.removeEventListener("byre:incident", onIncident);
    window.removeEventListener("byre:media", onMedia);
    for (const video of media.querySelectorAll("video")) {
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
  };
}
