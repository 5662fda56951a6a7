// The "what if" page: draw the simulated retirement curve (share retired against classifications) as SVG.
(function () {
  "use strict";
  const data = document.getElementById("whatif-data");
  const svg = document.getElementById("whatif-timeline");
  if (!data || !svg) return;
  const timeline = JSON.parse(data.textContent);
  const steps = timeline.steps, retired = timeline.retired;
  if (!steps.length) return;
  const total = Math.max(1, Number(svg.dataset.total) || Math.max(...retired));
  const width = 600, height = 240, pad = 36;
  const maxX = Math.max(1, steps[steps.length - 1]);
  const x = (v) => pad + (v / maxX) * (width - 2 * pad);
  const y = (v) => height - pad - (v / total) * (height - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";

  function add(tag, attrs, text) {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
    return el;
  }

  add("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" });
  add("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, class: "axis" });
  add("line", { x1: pad, y1: y(0.9 * total), x2: width - pad, y2: y(0.9 * total), class: "guide" });
  add("text", { x: width - pad, y: y(0.9 * total) - 4, "text-anchor": "end", class: "label" }, "90%");
  add("text", { x: width - pad, y: height - 8, "text-anchor": "end", class: "label" }, `${maxX} classifications`);
  add("text", { x: pad + 4, y: pad - 8, class: "label" }, `${total} retired`);
  const points = steps.map((s, i) => `${x(s).toFixed(1)},${y(retired[i]).toFixed(1)}`).join(" ");
  add("polyline", { points, class: "curve" });
})();
