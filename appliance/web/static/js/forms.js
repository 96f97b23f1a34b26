// Forms and read-only views built from JSON values: settings sections, system health.

import { h } from "./dom.js";
import { formatBytes, formatNumber, formatTime, tOr } from "./i18n.js";

export function humanize(key) {
  const text = String(key).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function label(key) {
  return tOr(`field.${key}`, humanize(key));
}

/** Inputs for every leaf of `value`; each carries its JSON path in `data-path`. */
export function valueForm(value, path = [], prefix = "f") {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const box = h("div", { class: path.length ? "fields nested" : "fields" });
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, key];
      if (child && typeof child === "object" && !Array.isArray(child)) {
        box.append(h("fieldset", {}, h("legend", {}, label(key)), valueForm(child, childPath, prefix)));
      } else {
        box.append(field(key, child, childPath, prefix));
      }
    }
    return box;
  }
  return field(path[path.length - 1] ?? "value", value, path, prefix);
}

function field(key, value, path, prefix) {
  const id = `${prefix}-${path.join("-")}`;
  const common = { id, dataset: { path: JSON.stringify(path), kind: kindOf(value) } };
  let input;
  if (typeof value === "boolean") {
    input = h("input", { ...common, type: "checkbox", checked: value });
    return h("label", { class: "check", for: id }, input, h("span", {}, label(key)));
  }
  if (typeof value === "number") input = h("input", { ...common, type: "number", step: "any", value: String(value) });
  else if (Array.isArray(value)) input = h("textarea", { ...common, rows: Math.min(12, 2 + JSON.stringify(value, null, 1).split("\n").length), spellcheck: "false", value: JSON.stringify(value, null, 2) });
  else input = h("input", { ...common, value: value ?? "", placeholder: value === null ? "—" : undefined });
  return h("div", { class: "field" }, h("label", { for: id }, label(key)), input);
}

function kindOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** The value a form built by `valueForm(original)` now holds; throws naming a bad field. */
export function readForm(form, original) {
  const result = structuredClone(original);
  for (const input of form.querySelectorAll("[data-path]")) {
    const path = JSON.parse(input.dataset.path);
    const kind = input.dataset.kind;
    let value;
    if (kind === "boolean") value = input.checked;
    else if (kind === "number") value = input.value === "" ? null : Number(input.value);
    else if (kind === "array") value = parseJson(input.value, path);
    else if (kind === "null") value = loose(input.value, path);
    else value = input.value;
    if (path.length === 0) return value;
    let target = result;
    for (const key of path.slice(0, -1)) target = target[key];
    target[path[path.length - 1]] = value;
  }
  return result;
}

function parseJson(text, path) {
  try {
    return JSON.parse(text || "null");
  } catch {
    throw new Error(`${path.map(label).join(" › ")}: JSON`);
  }
}

function loose(text, path) {
  const raw = text.trim();
  if (raw === "") return null;
  if (/^[[{]/.test(raw)) return parseJson(raw, path);
  if (raw === "true" || raw === "false") return raw === "true";
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

const OK = new Set(["ok", "ready", "running", "online", "healthy", "up", "connected", "enabled", "active"]);
const BAD = new Set(["error", "failed", "down", "offline", "quarantined", "crashed", "stopped", "degraded", "unhealthy", "disconnected"]);

/** A read-only view of any JSON value: definition lists, tables for lists of records. */
export function valueView(value, key = "") {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return h("span", { class: value ? "badge ok" : "badge bad" }, tOr(`bool.${value}`, String(value)));
  if (typeof value === "number") {
    if (/bytes/.test(key)) return h("span", {}, formatBytes(value));
    return h("span", {}, formatNumber(value, 2));
  }
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    if (OK.has(lower) || BAD.has(lower)) return h("span", { class: `badge ${OK.has(lower) ? "ok" : "bad"}` }, tOr(`status.${lower}`, value));
    if (/(_at|time)$/.test(key) && !Number.isNaN(Date.parse(value))) return h("time", { datetime: value }, formatTime(value));
    return h("span", {}, value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return h("span", { class: "muted" }, tOr("empty.list", "—"));
    if (value.every((item) => item && typeof item === "object" && !Array.isArray(item))) {
      const columns = [...new Set(value.flatMap((item) => Object.keys(item)))];
      return h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, label(c))))),
        h("tbody", {}, value.map((item) => h("tr", {}, columns.map((c) => h("td", {}, valueView(item[c], c))))))));
    }
    return h("span", {}, value.map(String).join(", "));
  }
  return h("dl", { class: "facts" }, Object.entries(value).map(([k, v]) => [h("dt", {}, label(k)), h("dd", {}, valueView(v, k))]));
}
