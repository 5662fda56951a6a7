// boxtool/geometry.js: the box tool's small pure helpers: SVG element building, rounding, clamping,
// turning a dragged box into min/max form and the eight handle points of a box, all in image pixels.

const SVG_NS = "http://www.w3.org/2000/svg";

export const round2 = (v) => Math.round(v * 100) / 100;
export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function el(name, attrs = {}) {
  const node = document.createElementNS(SVG_NS, name);
  setAttrs(node, attrs);
  return node;
}

export function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
}

// A box dragged up or left has its corners swapped; the stored form always has min <= max.
export function normalise(box) {
  return {
    tool: box.tool,
    x_min: Math.min(box.x_min, box.x_max),
    x_max: Math.max(box.x_min, box.x_max),
    y_min: Math.min(box.y_min, box.y_max),
    y_max: Math.max(box.y_min, box.y_max),
  };
}

export function handlePoints(m) {
  const cx = (m.x_min + m.x_max) / 2;
  const cy = (m.y_min + m.y_max) / 2;
  return {
    nw: [m.x_min, m.y_min], n: [cx, m.y_min], ne: [m.x_max, m.y_min], e: [m.x_max, cy],
    se: [m.x_max, m.y_max], s: [cx, m.y_max], sw: [m.x_min, m.y_max], w: [m.x_min, cy],
  };
}
