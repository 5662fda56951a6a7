// boxtool/keyboard.js: operating the box tool from the keyboard: a cross moved by the arrow keys starts and
// sizes a box; Tab selects a box, arrows move it, Alt+arrows resize it, Delete removes it. Like pointer.js,
// these are the BoxTool's own handlers on its internal fields, bound in its constructor.
import {clamp, normalise} from "./geometry.js";

export function focusIn(tool, e) {
  const markNode = e.target.closest?.(".mark");
  if (markNode && tool._selected !== Number(markNode.dataset.id)) {
    tool._selected = Number(markNode.dataset.id);
    tool.onChange(tool);
  }
  tool.render();
  if (!tool._blurBound) {
    tool._blurBound = true;
    tool.svg.addEventListener("focusout", () => requestAnimationFrame(() => tool.render()));
  }
}

export function keyDown(tool, e) {
  if (!tool.enabled || e.ctrlKey || e.metaKey) return;
  const step = e.shiftKey ? 10 : 1;
  const arrows = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
  const key = e.key;
  let handled = true;
  if (key in arrows) {
    const [dx, dy] = arrows[key];
    if (tool._kbDraw || tool._selected === null) {
      tool.kb = {x: clamp(tool.kb.x + dx, 0, tool.width), y: clamp(tool.kb.y + dy, 0, tool.height)};
      tool.render();
    } else if (e.altKey) {
      resizeSelected(tool, dx, dy);
    } else {
      nudgeSelected(tool, dx, dy);
    }
  } else if (key === "b" || key === "B" || key === "Enter") {
    if (tool._kbDraw) {
      finishKeyboardBox(tool);
    } else if (key === "Enter" && tool._selected !== null) {
      tool._selected = null;  // Enter on a selected box lets go of it
      tool.svg.focus({preventScroll: true});
      tool._changed();
    } else if (!tool._atMax()) {
      tool._selected = null;
      tool._kbDraw = {anchor: {...tool.kb}};
      tool.svg.focus({preventScroll: true});
      tool.onMessage("Box started. Use the arrow keys to size it and Enter to finish.");
      tool.render();
    }
  } else if (key === "Escape") {
    if (tool._kbDraw) {
      tool._kbDraw = null;
      tool.onMessage("Box cancelled.");
    } else if (tool._selected !== null) {
      tool._selected = null;
      tool.svg.focus({preventScroll: true});
      tool.onChange(tool);
    } else {
      handled = false;
    }
    tool.render();
  } else if (key === "Delete" || key === "Backspace") {
    handled = tool.deleteSelected();
  } else {
    handled = false;
  }
  if (handled) {
    e.preventDefault();
    e.stopPropagation();
  }
}

function finishKeyboardBox(tool) {
  const a = tool._kbDraw.anchor;
  tool._kbDraw = null;
  const b = normalise({tool: tool.activeTool, x_min: a.x, y_min: a.y, x_max: tool.kb.x, y_max: tool.kb.y});
  if (!tool._addBox(b)) return;
  focusSelected(tool);
}

function focusSelected(tool) {
  const node = tool._nodes.get(tool._selected);
  if (node) node.focus({preventScroll: true});
}

function nudgeSelected(tool, dx, dy) {
  const before = tool._snapshot();
  const m = tool._marks.find((x) => x.id === tool._selected);
  const w = m.x_max - m.x_min;
  const h = m.y_max - m.y_min;
  const x = clamp(m.x_min + dx, 0, tool.width - w);
  const y = clamp(m.y_min + dy, 0, tool.height - h);
  Object.assign(m, {x_min: x, y_min: y, x_max: x + w, y_max: y + h});
  tool._commit(before);
  focusSelected(tool);
}

function resizeSelected(tool, dx, dy) {
  const before = tool._snapshot();
  const m = tool._marks.find((x) => x.id === tool._selected);
  const xMax = clamp(m.x_max + dx, m.x_min + 1, tool.width);
  const yMax = clamp(m.y_max + dy, m.y_min + 1, tool.height);
  Object.assign(m, {x_max: xMax, y_max: yMax});
  tool._commit(before);
  focusSelected(tool);
}
