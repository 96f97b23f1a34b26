// Overview: active incidents first, then a tile per camera with its live view (detections drawn).

import { ApiError, get } from "../api.js";
import { h, clear, icon } from "../dom.js";
import { t } from "../i18n.js";
import { byUrgency, incidentRow } from "../incident-view.js";

export function cameraId(camera) {
  return camera.camera_id ?? camera.id;
}

export async function cameraList() {
  try {
    const reply = await get("/api/v1/cameras");
    return reply.items ?? reply.cameras ?? [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

export async function render(root, ctx) {
  const active = h("ul", { class: "incidents", id: "active-incidents" });
  const calm = h("p", { class: "empty calm", id: "no-active", hidden: true }, icon("check"), t("overview.calm"));
  const tiles = h("div", { class: "tiles", id: "camera-tiles" });
  root.append(
    h("section", {}, h("h1", {}, t("overview.active")), active, calm),
    h("section", {}, h("h2", {}, t("overview.cameras")), tiles),
  );

  async function loadIncidents() {
    const reply = await get("/api/v1/incidents?state=open&state=acknowledged&limit=20");
    clear(active);
    for (const incident of reply.items.sort(byUrgency)) active.append(incidentRow(incident));
    calm.hidden = reply.items.length > 0;
  }

  let pending = null;
  function onIncident() {
    clearTimeout(pending);
    pending = setTimeout(() => loadIncidents().catch(() => {}), 300);
  }
  window.addEventListener("byre:incident", onIncident);

  const cameras = await cameraList();
  if (cameras.length === 0) tiles.append(h("p", { class: "empty" }, t("overview.no_cameras")));
  for (const camera of cameras) {
    const id = cameraId(camera);
    const status = camera.status ?? camera.state ?? (camera.online === false ? "offline" : null);
    tiles.append(
      h(
        "figure",
        { class: "tile", dataset: { cameraId: id } },
        h("img", { class: "live-view", src: `/api/v1/cameras/${encodeURIComponent(id)}/live`, alt: t("overview.live_alt", { name: camera.name || id }) }),
        h(
          "figcaption",
          {},
          icon("camera"),
          h("span", { class: "tile-name" }, camera.name || id),
          status ? h("span", { class: `badge camera-${status}`, dataset: { cameraState: status } }, t(`camera.${status}`)) : null,
          (camera.health || []).map((problem) => h("span", { class: "badge bad" }, t(`camera.health.${problem}`))),
          h("a", { href: `#/zones/${encodeURIComponent(id)}`, class: "tile-link" }, t("overview.edit_zones")),
        ),
      ),
    );
  }
  await loadIncidents();
  return () => {
    clearTimeout(pending);
    window.removeEventListener("byre:incident", onIncident);
    // closing the MJPEG streams frees the browser's connections to the appliance
    for (const img of tiles.querySelectorAll("img.live-view")) img.removeAttribute("src");
  };
}
