// One device: state, telemetry charts, and commands with their saga status as it moves on.

import { get, post } from "../api.js";
import { h, clear, icon } from "../dom.js";
import { formatTime, t, tOr } from "../i18n.js";
import { chart } from "../chart.js";
import { availabilityBadge, stateList } from "./devices.js";

const FINISHED = new Set(["done", "failed", "timed_out"]);

export async function render(root, ctx, [deviceId]) {
  const id = encodeURIComponent(deviceId);
  const [device, types] = await Promise.all([get(`/api/v1/devices/${id}`), get("/api/v1/device-types")]);
  const type = types.items.find((item) => item.type === device.device_type) || { telemetry: [], commands: {} };
  const status = h("div", { class: "device-status", id: "device-status" });
  const charts = h("div", { class: "charts", id: "device-charts" });
  const sagas = h("ul", { class: "sagas", id: "saga-list" });
  const form = commandForm(type.commands, send);

  root.append(
    h("a", { href: "#/devices", class: "back" }, icon("back"), t("device.back")),
    h("section", { class: "card" }, h("h1", {}, device.name || device.device_id), status),
    h("section", { class: "card" }, h("h2", {}, t("device.commands")), form, sagas),
    h("section", { class: "card" }, h("h2", {}, t("device.telemetry")), charts),
  );

  function showStatus(current) {
    clear(status).append(
      h("p", { class: "device-meta" }, availabilityBadge(current.status), h("span", {}, t(`device_type.${current.device_type}`)), h("span", {}, current.device_id)),
      h("p", {}, t("device.last_seen", { time: formatTime(current.status?.last_seen_at) })),
      stateList(current.status?.state) || h("p", { class: "empty" }, t("device.no_state")),
    );
  }

  async function loadCharts() {
    clear(charts);
    for (const field of type.telemetry) {
      const reply = await get(`/api/v1/devices/${id}/telemetry?name=${encodeURIComponent(field.name)}&bucket_s=60&hours=24`);
      const name = tOr(`telemetry.${field.name}`, field.name);
      const label = field.unit && field.unit !== "bool" ? `${name} (${field.unit})` : name;
      charts.append(h("figure", { class: "chart-box", dataset: { telemetry: field.name } }, h("figcaption", {}, label), chart(reply.items, { unit: field.unit === "bool" ? "" : field.unit, label })));
    }
    if (type.telemetry.length === 0) charts.append(h("p", { class: "empty" }, t("device.no_data")));
  }

  async function loadSagas() {
    const reply = await get(`/api/v1/devices/${id}/commands`);
    clear(sagas);
    const items = [...reply.items].sort((a, b) => String(b.requested_at).localeCompare(String(a.requested_at)));
    for (const saga of items.slice(0, 10)) {
      sagas.append(
        h("li", { class: `saga saga-${saga.state}`, dataset: { correlationId: saga.correlation_id, sagaState: saga.state } },
          h("span", { class: "saga-action" }, tOr(`action.${saga.action}`, saga.action)),
          h("span", { class: `badge saga-state state-${saga.state}` }, t(`saga.${saga.state}`)),
          h("span", { class: "saga-time" }, formatTime(saga.requested_at)),
          saga.detail ? h("span", { class: "saga-detail" }, saga.detail) : null),
      );
    }
    return items.some((saga) => !FINISHED.has(saga.state));
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    const busy = await loadSagas();
    const current = await get(`/api/v1/devices/${id}`);
    showStatus(current);
    timer = setTimeout(() => poll().catch(() => {}), busy ? 500 : 5000);
  }

  async function send(action, params) {
    try {
      await post(`/api/v1/devices/${id}/commands`, {
        action,
        params,
        correlation_id: `ui-${crypto.randomUUID()}`,
        requested_by: ctx.user.username,
      });
      ctx.toast(t("device.sent", { action: tOr(`action.${action}`, action) }), "ok");
    } catch (err) {
      ctx.toast(t("error.generic", { message: err.message }), "error");
    }
    await poll();
  }

  showStatus(device);
  await Promise.all([poll(), loadCharts()]);
  const chartTimer = setInterval(() => loadCharts().catch(() => {}), 60000);
  return () => {
    clearTimeout(timer);
    clearInterval(chartTimer);
  };
}

/** A form for one command: pick the action, then fill in its params (built from JSON Schema). */
function commandForm(commands, send) {
  const actions = Object.keys(commands);
  const fields = h("div", { class: "params" });
  const select = h("select", { id: "command-action", onchange: () => showParams() },
    actions.map((action) => h("option", { value: action }, tOr(`action.${action}`, action))));
  const form = h("form", { class: "command-form", id: "command-form" },
    h("label", { for: "command-action" }, t("device.action")), select, fields,
    h("button", { type: "submit", class: "primary", id: "command-send" }, t("device.send")));
  let inputs = [];

  function showParams() {
    clear(fields);
    inputs = [];
    const schema = commands[select.value] || {};
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const spec = prop.anyOf ? { ...prop, ...prop.anyOf.find((p) => p.type !== "null") } : prop;
      const inputId = `param-${name}`;
      let input;
      if (spec.enum) {
        input = h("select", { id: inputId }, spec.enum.map((v) => h("option", { value: v, selected: v === spec.default }, tOr(`param_value.${v}`, v))));
      } else if (spec.type === "boolean") {
        input = h("input", { id: inputId, type: "checkbox", checked: spec.default === true });
      } else if (spec.type === "integer" || spec.type === "number") {
        input = h("input", { id: inputId, type: "number", inputmode: "decimal", min: spec.minimum, max: spec.maximum, step: spec.type === "integer" ? 1 : "any", value: spec.default ?? "" });
      } else {
        input = h("input", { id: inputId, value: spec.default ?? "" });
      }
      inputs.push([name, spec, input]);
      fields.append(h("label", { for: inputId, title: spec.description || "" }, tOr(`param.${name}`, name)), input);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const [name, spec, input] of inputs) {
      if (spec.type === "boolean") params[name] = input.checked;
      else if (input.value === "") continue;
      else if (spec.type === "integer") params[name] = parseInt(input.value, 10);
      else if (spec.type === "number") params[name] = Number(input.value);
      else params[name] = input.value;
    }
    send(select.value, params);
  });
  if (actions.length === 0) form.hidden = true;
  showParams();
  return form;
}
