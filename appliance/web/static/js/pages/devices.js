// Devices: each device's availability, last report and state; tap one for charts and commands.

import { get } from "../api.js";
import { h, clear, icon } from "../dom.js";
import { formatTime, t } from "../i18n.js";

export function availabilityBadge(status) {
  const availability = status?.availability || "unknown";
  return h("span", { class: `badge availability-${availability}`, dataset: { availability } }, t(`availability.${availability}`));
}

export function stateList(state) {
  if (!state || typeof state !== "object") return null;
  return h(
    "dl",
    { class: "state" },
    Object.entries(state).map(([key, value]) => [h("dt", {}, key), h("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value))]),
  );
}

export async function render(root) {
  const list = h("ul", { class: "devices", id: "device-list" });
  root.append(h("h1", {}, t("nav.devices")), list);

  async function load() {
    const reply = await get("/api/v1/devices");
    clear(list);
    if (reply.items.length === 0) list.append(h("li", { class: "empty" }, t("devices.empty")));
    for (const device of reply.items) {
      list.append(
        h(
          "li",
          { class: device.active ? "device" : "device revoked", dataset: { deviceId: device.device_id } },
          h(
            "a",
            { href: `#/devices/${encodeURIComponent(device.device_id)}`, class: "device-link" },
            h("span", { class: "device-name" }, icon("devices"), device.name || device.device_id),
            h("span", { class: "device-meta" },
              availabilityBadge(device.status),
              h("span", {}, t(`device_type.${device.device_type}`)),
              h("span", {}, device.device_id),
              h("span", {}, t("device.last_seen", { time: formatTime(device.status?.last_seen_at) }))),
            stateList(device.status?.state),
          ),
        ),
      );
    }
  }
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
