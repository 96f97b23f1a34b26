// Live incident push (Server-Sent Events): other pages listen for `byre:incident` and
// `byre:media` on window; new and escalated incidents beep and raise a browser notification.

import { t } from "./i18n.js";

const TYPES = [
  "incident.opened",
  "incident.updated",
  "incident.acknowledged",
  "incident.escalated",
  "incident.resolved",
  "incident.media_ready",
];
const ALARMING = new Set(["incident.opened", "incident.escalated"]);
const SOUND_KEY = "byre.sound";

let source = null;
let audio = null;

export function soundOn() {
  return localStorage.getItem(SOUND_KEY) !== "off";
}

export function setSound(on) {
  localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  if (on) unlockAudio();
}

/** Browsers allow sound only after a user gesture: call this from one (any click does). */
export function unlockAudio() {
  if (!audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = new Context();
  }
  if (audio.state === "suspended") audio.resume();
}

export function beep() {
  if (!soundOn() || !audio || audio.state !== "running") return;
  const start = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.22);
  }
}

function notify(incident) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(t("notify.title", { title: incident.title }), {
    body: `${t(`kind.${incident.kind}`)} · ${t(`severity.${incident.severity}`)}`,
    tag: incident.incident_id,
  });
  note.onclick = () => {
    window.focus();
    location.hash = `#/incidents/${incident.incident_id}`;
  };
}

function setLive(state) {
  document.body.dataset.live = state;
  window.dispatchEvent(new CustomEvent("byre:live", { detail: state }));
}

export function startAlerts(onAlarm) {
  if (source) return;
  source = new EventSource("/api/v1/alerts/stream", { withCredentials: true });
  source.onopen = () => setLive("on");
  source.onerror = () => setLive(source && source.readyState === EventSource.CLOSED ? "off" : "retry");
  for (const type of TYPES) {
    source.addEventListener(type, (message) => {
      const data = JSON.parse(message.data);
      if (type === "incident.media_ready") {
        window.dispatchEvent(new CustomEvent("byre:media", { detail: data.incident }));
        return;
      }
      const incident = data.incident;
      window.dispatchEvent(new CustomEvent("byre:incident", { detail: { type, incident } }));
      if (ALARMING.has(type)) {
        beep();
        notify(incident);
        onAlarm?.(type, incident);
      }
    });
  }
}

export function stopAlerts() {
  source?.close();
  source = null;
  setLive("off");
}
