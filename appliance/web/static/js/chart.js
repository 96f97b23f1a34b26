// A telemetry chart as inline SVG: the mean per bucket as a line over a min–max band.

import { s } from "./dom.js";
import { formatNumber, formatTime, t } from "./i18n.js";

const W = 600;
const H = 200;
const PAD = { left: 48, right: 8, top: 10, bottom: 26 };

export function chart(points, { unit = "", label = "" } = {}) {
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, preserveAspectRatio: "none" });
  if (points.length === 0) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-empty" }, t("device.no_data")));
    return svg;
  }
  const times = points.map((p) => new Date(p.at).getTime());
  const lows = points.map((p) => p.min);
  const highs = points.map((p) => p.max);
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t1 === t0) t1 = t0 + 60000;
  let v0 = Math.min(...lows);
  let v1 = Math.max(...highs);
  if (v1 === v0) {
    v0 -= 1;
    v1 += 1;
  }
  const x = (time) => PAD.left + ((time - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (value) => H - PAD.bottom - ((value - v0) / (v1 - v0)) * (H - PAD.top - PAD.bottom);
  const band = [
    ...points.map((p, i) => `${x(times[i])},${y(p.max)}`),
    ...points.map((p, i) => `${x(times[i])},${y(p.min)}`).reverse(),
  ].join(" ");
  const line = points.map((p, i) => `${x(times[i])},${y(p.mean)}`).join(" ");
  svg.append(
    s("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }),
    s("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }),
    s("text", { x: PAD.left - 4, y: y(v1) + 4, "text-anchor": "end", class: "tick" }, `${formatNumber(v1)}${unit ? " " + unit : ""}`),
    s("text", { x: PAD.left - 4, y: y(v0), "text-anchor": "end", class: "tick" }, formatNumber(v0)),
    s("text", { x: PAD.left, y: H - 6, class: "tick" }, formatTime(new Date(t0).toISOString())),
    s("text", { x: W - PAD.right, y: H - 6, "text-anchor": "end", class: "tick" }, formatTime(new Date(t1).toISOString())),
    s("polygon", { points: band, class: "band" }),
    s("polyline", { points: line, class: "line", fill: "none" }),
  );
  if (points.length === 1) svg.append(s("circle", { cx: x(times[0]), cy: y(points[0].mean), r: 4, class: "dot" }));
  return svg;
}
