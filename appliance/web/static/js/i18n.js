// Texts of the UI in English and Russian: `t(key, vars)`, dates and numbers per language.

export const LANGUAGES = ["en", "ru"];
const STORE_KEY = "byre.language";

let current = "en";
let texts = {};

/** The language to start with: the last one chosen here, else the browser's. */
export function defaultLanguage() {
  const stored = localStorage.getItem(STORE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  const browser = (navigator.languages?.[0] || navigator.language || "en").toLowerCase();
  return browser.startsWith("ru") ? "ru" : "en";
}

export async function setLanguage(language) {
  const lang = LANGUAGES.includes(language) ? language : "en";
  const reply = await fetch(`/static/i18n/${lang}.json`, { credentials: "same-origin" });
  texts = await reply.json();
  current = lang;
  localStorage.setItem(STORE_KEY, lang);
  document.documentElement.lang = lang;
  document.title = t("app.title");
}

export function language() {
  return current;
}

/** The text for `key` with `{name}` placeholders filled in; the key itself when missing. */
export function t(key, vars = {}) {
  const text = texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Like `t`, but falls back to `fallback` (not the key) when there is no text. */
export function tOr(key, fallback) {
  return texts[key] ?? fallback;
}

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(current, { dateStyle: "short", timeStyle: "medium" }).format(date);
}

export function formatNumber(value, digits = 1) {
  return new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value);
}

export function formatBytes(bytes) {
  if (typeof bytes !== "number") return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatNumber(value, unit ? 1 : 0)} ${t(`unit.${units[unit]}`)}`;
}
