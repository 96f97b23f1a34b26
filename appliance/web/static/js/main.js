// The single page: boot (first-run setup or sign-in), the shell (header, navigation) and the
// hash router that renders one page module at a time.

import { ApiError, get, patch, post, setCsrfToken, whenUnauthorized } from "./api.js";
import { h, clear, icon } from "./dom.js";
import { LANGUAGES, defaultLanguage, language, setLanguage, t } from "./i18n.js";
import { setSound, soundOn, startAlerts, stopAlerts, unlockAudio } from "./alerts.js";

const ROUTES = [
  [/^\/?$/, "overview"],
  [/^\/signin$/, "signin"],
  [/^\/setup$/, "setup"],
  [/^\/incidents$/, "incidents"],
  [/^\/incidents\/([0-9a-fA-F-]+)$/, "incident"],
  [/^\/devices$/, "devices"],
  [/^\/devices\/([\w.:-]+)$/, "device"],
  [/^\/zones$/, "zones"],
  [/^\/zones\/([\w-]+)$/, "zones"],
  [/^\/settings$/, "settings"],
  [/^\/system$/, "system"],
];
const PUBLIC = new Set(["signin", "setup"]);
const NAV = [
  ["overview", "#/", "home"],
  ["incidents", "#/incidents", "bell"],
  ["devices", "#/devices", "devices"],
  ["zones", "#/zones", "zones"],
  ["settings", "#/settings", "settings"],
  ["system", "#/system", "system"],
];

const ctx = {
  user: null,
  setupRequired: false,
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  toast,
  signedIn,
  rerender: () => route(),
};
let cleanup = null;
let renderId = 0;

const top = h("header", { class: "top", id: "top" });
const nav = h("nav", { class: "nav", id: "nav" });
const page = h("main", { class: "page", id: "page", tabindex: "-1" });
const toasts = h("div", { class: "toasts", id: "toasts", "aria-live": "polite" });

/** A short message at the bottom of the screen; `kind` is info, ok, error or alarm. */
export function toast(message, kind = "info", href = null) {
  const item = h(href ? "a" : "div", { class: `toast toast-${kind}`, href, role: "status" }, message);
  toasts.append(item);
  setTimeout(() => item.remove(), kind === "alarm" ? 10000 : 4000);
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  for (const [pattern, name] of ROUTES) {
    const match = path.match(pattern);
    if (match) return { name, params: match.slice(1), query: new URLSearchParams(query) };
  }
  return { name: "overview", params: [], query: new URLSearchParams() };
}

async function route() {
  const id = ++renderId;
  const { name, params, query } = parseHash();
  if (ctx.setupRequired && name !== "setup") return ctx.navigate("#/setup");
  if (!ctx.setupRequired && name === "setup") return ctx.navigate(ctx.user ? "#/" : "#/signin");
  if (!ctx.user && !PUBLIC.has(name)) return ctx.navigate("#/signin");
  if (ctx.user && name === "signin") return ctx.navigate("#/");
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
  renderShell(name);
  clear(page);
  document.body.dataset.page = name;
  const module = await import(`./pages/${name}.js`);
  if (id !== renderId) return;
  try {
    const done = await module.render(page, ctx, params, query);
    if (id !== renderId) {
      if (typeof done === "function") done();
      return;
    }
    cleanup = typeof done === "function" ? done : null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    console.error(err);
    page.append(h("p", { class: "error", role: "alert" }, t("error.load", { message: err.message })));
  }
}

function renderShell(active) {
  clear(top);
  clear(nav);
  const section = active === "incident" ? "incidents" : active === "device" ? "devices" : active;
  const languageSelect = h(
    "select",
    { class: "language", id: "language", "aria-label": t("shell.language"), onchange: (e) => changeLanguage(e.target.value) },
    LANGUAGES.map((code) =>
      h("option", { value: code, selected: code === language(), title: t(`language.${code}`) }, t(`language_short.${code}`)),
    ),
  );
  top.append(
    h("a", { class: "brand", href: "#/" }, icon("zones"), h("span", {}, t("app.name"))),
    h("span", { class: "live", id: "live", title: t("shell.live") }, t(`live.${document.body.dataset.live || "off"}`)),
    h("div", { class: "top-actions" },
      h("label", { class: "language-label" }, icon("globe"), languageSelect),
      ctx.user
        ? h("button", {
            class: "icon-button",
            id: "sound",
            type: "button",
            "aria-pressed": String(soundOn()),
            title: soundOn() ? t("shell.sound_on") : t("shell.sound_off"),
            onclick: () => {
              setSound(!soundOn());
              renderShell(active);
            },
          }, icon(soundOn() ? "sound" : "mute", soundOn() ? t("shell.sound_on") : t("shell.sound_off")))
        : null,
      ctx.user
        ? h("button", { class: "icon-button", id: "signout", type: "button", title: t("shell.sign_out"), onclick: signOut },
            icon("logout", t("shell.sign_out")))
        : null,
    ),
  );
  if (!ctx.user) {
    nav.hidden = true;
    return;
  }
  nav.hidden = false;
  for (const [key, href, iconName] of NAV) {
    nav.append(
      h("a", { href, class: key === section ? "nav-item active" : "nav-item", "aria-current": key === section ? "page" : undefined, "aria-label": t(`nav.${key}`), dataset: { nav: key } },
        icon(iconName), h("span", { class: "label-full" }, t(`nav.${key}`)), h("span", { class: "label-short", "aria-hidden": "true" }, t(`nav_short.${key}`))),
    );
  }
}

async function changeLanguage(code) {
  await setLanguage(code);
  if (ctx.user) {
    try {
      const me = await patch("/api/v1/auth/me", { language: code });
      ctx.user = { ...ctx.user, ...(me || {}), language: code };
    } catch (err) {
      toast(t("error.save", { message: err.message }), "error");
    }
  }
  route();
}

/** After sign-in or first-run setup: keep the user and CSRF token, start alerts, go home. */
async function signedIn(user) {
  ctx.user = user;
  ctx.setupRequired = false;
  if (user.csrf_token) setCsrfToken(user.csrf_token);
  if (user.language && LANGUAGES.includes(user.language) && user.language !== language()) {
    await setLanguage(user.language);
  }
  startAlerts(onAlarm);
  ctx.navigate("#/");
}

function onAlarm(type, incident) {
  const text = type === "incident.escalated" ? t("notify.escalated", { title: incident.title }) : t("notify.title", { title: incident.title });
  toast(text, "alarm", `#/incidents/${incident.incident_id}`);
}

async function signOut() {
  try {
    await post("/api/v1/auth/logout");
  } catch (err) {
    console.warn(err);
  }
  stopAlerts();
  setCsrfToken("");
  ctx.user = null;
  ctx.navigate("#/signin");
}

async function boot() {
  document.body.append(top, nav, page, toasts);
  await setLanguage(defaultLanguage());
  whenUnauthorized(() => {
    if (!ctx.user) return;
    stopAlerts();
    ctx.user = null;
    ctx.navigate("#/signin");
  });
  window.addEventListener("byre:live", () => {
    const live = document.getElementById("live");
    if (live) live.textContent = t(`live.${document.body.dataset.live || "off"}`);
  });
  document.addEventListener("click", unlockAudio, { passive: true });
  try {
    const state = await get("/api/v1/auth/state");
    ctx.setupRequired = Boolean(state && state.setup_required);
  } catch (err) {
    console.warn(err);
  }
  if (!ctx.setupRequired) {
    try {
      const me = await get("/api/v1/auth/me");
      if (me && me.username) {
        ctx.user = me;
        if (me.csrf_token) setCsrfToken(me.csrf_token);
        if (me.language && LANGUAGES.includes(me.language) && me.language !== language()) await setLanguage(me.language);
        startAlerts(onAlarm);
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) console.warn(err);
    }
  }
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "true";
}

boot();
