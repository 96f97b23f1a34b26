// Zone editor: polygons drawn on the camera's snapshot. Click to add a point, drag a point to
// move it, pick the kind, save: the pipeline applies the zones at once.

import { get, put } from "../api.js";
import { h, s, clear, icon } from "../dom.js";
import { t } from "../i18n.js";
import { cameraId, cameraList } from "./overview.js";

export const KINDS = ["pasture", "pen", "trough", "gate", "road", "restricted", "calving_pen"];

export async function render(root, ctx, [wanted]) {
  const cameras = await cameraList();
  root.append(h("h1", {}, t("nav.zones")));
  if (cameras.length === 0) {
    root.append(h("p", { class: "empty" }, t("overview.no_cameras")));
    return;
  }
  const camera = decodeURIComponent(wanted || cameraId(cameras[0]));
  const cam = encodeURIComponent(camera);
  if (cameras.length > 1) {
    root.append(
      h("div", { class: "chips" }, cameras.map((c) =>
        h("a", { href: `#/zones/${encodeURIComponent(cameraId(c))}`, class: cameraId(c) === camera ? "chip active" : "chip" }, c.name || cameraId(c)))),
    );
  }

  let zones = ((await get(`/api/v1/cameras/${cam}/zones`)).zones || []).map(copyZone);
  let selected = zones.length ? 0 : -1;
  let dragging = null;

  const image = h("img", { class: "zone-image", id: "zone-image", src: `/api/v1/cameras/${cam}/snapshot.jpg?t=${Date.now()}`, alt: t("zones.snapshot_alt"), draggable: "false" });
  const drawing = s("svg", { class: "zone-svg", viewBox: "0 0 1 1", preserveAspectRatio: "none", "aria-hidden": "true" });
  const handles = h("div", { class: "zone-handles" });
  const canvas = h("div", { class: "zone-canvas", id: "zone-canvas", role: "application", "aria-label": t("zones.canvas_label") }, image, drawing, handles);
  const list = h("ul", { class: "zone-list", id: "zone-list" });
  const editor = h("div", { class: "zone-editor", id: "zone-editor" });
  const message = h("p", { class: "message", id: "zones-message", role: "status" });
  const applied = h("img", { class: "zone-applied", id: "zones-applied", alt: t("zones.applied_alt"), hidden: true });

  const technician = ctx.user.role === "technician";
  root.append(
    h("p", { class: "hint" }, technician ? t("zones.hint") : t("zones.read_only")),
    h("div", { class: "zone-layout" },
      canvas,
      h("div", { class: "zone-side" },
        technician
          ? h("div", { class: "toolbar" },
              h("button", { type: "button", class: "secondary", id: "zone-new", onclick: newZone }, icon("plus"), t("zones.new")),
              h("button", { type: "button", class: "primary", id: "zones-save", onclick: save }, icon("check"), t("zones.save")))
          : null,
        technician ? editor : null, list, message)),
    h("section", { class: "card" }, h("h2", {}, t("zones.applied")), applied),
  );

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return [round(clamp((event.clientX - rect.left) / rect.width)), round(clamp((event.clientY - rect.top) / rect.height))];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!technician) return;
    if (event.button !== 0 || event.target.closest(".handle")) return;
    event.preventDefault();
    if (selected < 0) newZone();
    zones[selected].points.push(point(event));
    draw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!dragging) return;
    zones[dragging.zone].points[dragging.point] = point(event);
    drawShapes();
  });
  const stop = () => {
    dragging = null;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  function newZone() {
    const used = new Set(zones.map((z) => z.name));
    let n = zones.length + 1;
    while (used.has(`zone-${n}`)) n += 1;
    zones.push({ name: `zone-${n}`, kind: "pen", points: [] });
    selected = zones.length - 1;
    draw();
  }

  function draw() {
    drawShapes();
    drawList();
  }

  function drawShapes() {
    clear(drawing);
    clear(handles);
    zones.forEach((zone, zi) => {
      const attrs = { class: `zone-shape kind-${zone.kind}${zi === selected ? " selected" : ""}`, "vector-effect": "non-scaling-stroke" };
      const pts = zone.points.map(([x, y]) => `${x},${y}`).join(" ");
      drawing.append(zone.points.length >= 3 ? s("polygon", { ...attrs, points: pts }) : s("polyline", { ...attrs, points: pts, fill: "none" }));
      if (zi !== selected) return;
      zone.points.forEach(([x, y], pi) => {
        const handle = h("span", { class: "handle", dataset: { point: pi }, title: t("zones.drag_hint") });
        handle.style.left = `${x * 100}%`;
        handle.style.top = `${y * 100}%`;
        handle.addEventListener("pointerdown", (event) => {
          if (!technician) return;
          event.preventDefault();
          event.stopPropagation();
          canvas.setPointerCapture(event.pointerId);
          dragging = { zone: zi, point: pi };
        });
        handles.append(handle);
      });
    });
  }

  function drawList() {
    drawItems();
    drawEditor();
  }

  function drawItems() {
    clear(list);
    zones.forEach((zone, zi) => {
      list.append(
        h("li", { class: zi === selected ? "zone-item selected" : "zone-item", dataset: { zone: zone.name } },
          h("button", { type: "button", class: "zone-select", onclick: () => { selected = zi; draw(); } },
            h("span", { class: `swatch kind-${zone.kind}` }),
            h("span", {}, zone.name),
            h("span", { class: "muted" }, `${t(`zone_kind.${zone.kind}`)} · ${t("zones.points", { n: zone.points.length })}`))),
      );
    });
  }

  function drawEditor() {
    clear(editor);
    const zone = zones[selected];
    if (!zone) return;
    const name = h("input", { id: "zone-name", value: zone.name, maxlength: 64, oninput: (e) => { zone.name = e.target.value; drawItems(); } });
    const kind = h("select", { id: "zone-kind", onchange: (e) => { zone.kind = e.target.value; drawShapes(); drawItems(); } },
      KINDS.map((k) => h("option", { value: k, selected: k === zone.kind }, t(`zone_kind.${k}`))));
    editor.append(
      h("label", { for: "zone-name" }, t("zones.name")), name,
      h("label", { for: "zone-kind" }, t("zones.kind")), kind,
      h("div", { class: "toolbar" },
        h("button", { type: "button", class: "secondary", id: "zone-undo", disabled: zone.points.length === 0, onclick: () => { zone.points.pop(); draw(); } }, icon("undo"), t("zones.undo")),
        h("button", { type: "button", class: "danger", id: "zone-delete", onclick: () => { zones.splice(selected, 1); selected = zones.length - 1; draw(); } }, icon("trash"), t("zones.delete"))),
    );
  }

  async function save() {
    message.className = "message";
    try {
      const reply = await put(`/api/v1/cameras/${cam}/zones`, { zones: zones.map(copyZone) });
      zones = ((reply && reply.zones) || (await get(`/api/v1/cameras/${cam}/zones`)).zones || []).map(copyZone);
      selected = Math.min(selected, zones.length - 1);
      draw();
      message.textContent = t("zones.saved");
      message.classList.add("ok");
      showApplied();
    } catch (err) {
      message.textContent = t("zones.save_failed", { message: err.message });
      message.classList.add("error");
    }
  }

  function showApplied() {
    applied.src = `/api/v1/cameras/${cam}/snapshot.jpg?overlay=1&t=${Date.now()}`;
    applied.hidden = false;
  }

  draw();
  showApplied();
}

function copyZone(zone) {
  return { name: zone.name, kind: zone.kind, points: zone.points.map(([x, y]) => [x, y]) };
}

function round(value) {
  return Math.round(value * 10000) / 10000;
}
