// boxtool/marks.js: the SVG group that shows one box (body, number label, grab strips and handles)
// and how it is laid out for the current zoom. It reads the mark and the tool's options; it keeps no state.
import {el, handlePoints, round2, setAttrs} from "./geometry.js";

const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const HANDLE_PX = 10;          // visible handle size on screen
const HANDLE_HIT_PX = 26;      // grab area on screen, large enough for a finger

export function makeMarkNode(id) {
  const g = el("g", {class: "mark", tabindex: "0", role: "button", "data-id": id});
  g.append(el("rect", {class: "mark-body", "data-part": "body"}));
  g.append(el("text", {class: "mark-label", "aria-hidden": "true"}));
  // Edge grab strips first, corners on top of them, then the visible squares.
  for (const h of ["n", "e", "s", "w", "nw", "ne", "se", "sw"]) g.append(el("rect", {class: "mark-hit", "data-handle": h}));
  for (const h of HANDLES) g.append(el("rect", {class: `mark-handle mark-handle-${h}`, "data-handle": h}));
  return g;
}

// `ppu` is screen pixels per image pixel: labels and handles keep their on-screen size at any zoom.
export function updateMarkNode(g, mark, index, {ppu, selected, enabled, tools}) {
  g.classList.toggle("is-selected", selected);
  g.setAttribute("aria-pressed", String(selected));
  g.setAttribute("tabindex", enabled ? "0" : "-1");
  const w = mark.x_max - mark.x_min;
  const h = mark.y_max - mark.y_min;
  g.setAttribute("aria-label",
    `${mark.tool} box ${index + 1}: x ${round2(mark.x_min)} to ${round2(mark.x_max)}, ` +
    `y ${round2(mark.y_min)} to ${round2(mark.y_max)} pixels${selected ? ", selected" : ""}`);
  const [body, label, ...handles] = g.children;
  setAttrs(body, {x: mark.x_min, y: mark.y_min, width: w, height: h});
  const fs = 12 / ppu;
  setAttrs(label, {x: mark.x_min + 9 / ppu, y: mark.y_min - 4 / ppu, "font-size": fs});
  // With several tools the label names the tool too, so kinds differ by more than colour.
  label.textContent = tools.length > 1 ? `${index + 1} ${mark.tool}` : String(index + 1);
  g.dataset.toolIndex = String(Math.max(0, tools.findIndex((t) => t.label === mark.tool)));
  const points = handlePoints(mark);
  const hit = HANDLE_HIT_PX / ppu;
  for (const node of handles) {
    const name = node.dataset.handle;
    const [px, py] = points[name];
    if (node.classList.contains("mark-hit") && name.length === 1) {
      // Edge grab areas run along the whole side (between the corners), not just around the midpoint.
      const horizontal = name === "n" || name === "s";
      const along = Math.max(0, (horizontal ? w : h) - hit);
      setAttrs(node, horizontal
        ? {x: px - along / 2, y: py - hit / 2, width: along, height: hit}
        : {x: px - hit / 2, y: py - along / 2, width: hit, height: along});
    } else {
      const size = node.classList.contains("mark-hit") ? hit : HANDLE_PX / ppu;
      setAttrs(node, {x: px - size / 2, y: py - size / 2, width: size, height: size});
    }
    node.setAttribute("visibility", selected && enabled ? "visible" : "hidden");
  }
}
