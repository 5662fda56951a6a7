// boxtool/pointer.js: drawing, moving and resizing boxes with a mouse, finger or pen (Pointer Events).
// These are the BoxTool's own handlers, kept apart for size: they work on the tool's internal fields
// (the underscored ones) and nothing else, and the tool binds them in its constructor.
import {clamp, normalise} from "./geometry.js";

const CLICK_SLOP_PX = 4;       // a pointer that moves less than this (on screen) is a click, not a box

export function pointerDown(tool, e) {
  if (!tool.enabled || tool._gesture) return;
  if (e.pointerType === "mouse" && e.button !== 0) return;
  const p = tool._toImage(e);
  const markNode = e.target.closest?.(".mark");
  const handle = e.target.dataset?.handle;
  const id = markNode ? Number(markNode.dataset.id) : null;
  e.preventDefault();
  tool.svg.focus({preventScroll: true, focusVisible: false});
  tool._kbDraw = null;
  const base = {pointerId: e.pointerId, start: p, startScreen: {x: e.clientX, y: e.clientY}};
  // Only the selected box moves or resizes; a drag that starts inside another box draws a new box
  // (clumps sit inside galaxies, boxes inside boxes), and a click there selects it.
  if (markNode && id === tool._selected) {
    const mark = tool._marks.find((m) => m.id === id);
    tool._selected = id;
    tool._gesture = {...base, kind: handle ? "resize" : "move", handle, id, before: tool._snapshot(),
                     orig: {...mark}};
  } else {
    tool._selected = null;
    tool._gesture = {...base, kind: "draw", hitId: markNode ? id : null};
  }
  tool.svg.setPointerCapture(e.pointerId);
  tool.render();
  tool.onChange(tool);  // the selection may have changed
}

export function pointerMove(tool, e) {
  const g = tool._gesture;
  if (!g || e.pointerId !== g.pointerId) return;
  e.preventDefault();
  const p = tool._toImage(e);
  const moved = Math.hypot(e.clientX - g.startScreen.x, e.clientY - g.startScreen.y) >= CLICK_SLOP_PX;
  if (g.kind === "draw") {
    if (!g.dragging && moved) {
      if (tool._atMax()) { tool.cancelGesture(); return; }
      g.dragging = true;
    }
    if (g.dragging) tool._showPreview(normalise({x_min: g.start.x, y_min: g.start.y, x_max: p.x, y_max: p.y}));
    return;
  }
  if (!g.dragging && !moved) return;
  g.dragging = true;
  const mark = tool._marks.find((m) => m.id === g.id);
  const o = g.orig;
  if (g.kind === "move") {
    const w = o.x_max - o.x_min;
    const h = o.y_max - o.y_min;
    const x = clamp(o.x_min + p.x - g.start.x, 0, tool.width - w);
    const y = clamp(o.y_min + p.y - g.start.y, 0, tool.height - h);
    Object.assign(mark, {x_min: x, y_min: y, x_max: x + w, y_max: y + h});
  } else {
    const next = {...o};
    const dx = p.x - g.start.x;
    const dy = p.y - g.start.y;
    if (g.handle.includes("w")) next.x_min = clamp(o.x_min + dx, 0, tool.width);
    if (g.handle.includes("e")) next.x_max = clamp(o.x_max + dx, 0, tool.width);
    if (g.handle.includes("n")) next.y_min = clamp(o.y_min + dy, 0, tool.height);
    if (g.handle.includes("s")) next.y_max = clamp(o.y_max + dy, 0, tool.height);
    Object.assign(mark, normalise(next));
  }
  tool.render();
}

export function pointerUp(tool, e) {
  const g = tool._gesture;
  if (!g || e.pointerId !== g.pointerId) return;
  tool._gesture = null;
  try { tool.svg.releasePointerCapture(e.pointerId); } catch { /* already released */ }
  tool.preview.setAttribute("visibility", "hidden");
  if (g.kind === "draw") {
    if (!g.dragging) { tool.select(g.hitId); return; }  // a click makes no box, but selects the box under it
    const b = normalise({tool: tool.activeTool, x_min: g.start.x, y_min: g.start.y, ...pointerEnd(tool, e)});
    tool._addBox(b);
    return;
  }
  const mark = tool._marks.find((m) => m.id === g.id);
  if (mark.x_max - mark.x_min <= 0 || mark.y_max - mark.y_min <= 0) {
    tool._restore(g.before);
    tool.onMessage("A box needs a width and a height; the change was undone.");
    return;
  }
  tool._commit(g.before);
}

function pointerEnd(tool, e) {
  const p = tool._toImage(e);
  return {x_max: p.x, y_max: p.y};
}
