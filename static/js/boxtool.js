// boxtool.js: a rectangle-drawing widget on an SVG overlay.
//
// The SVG's viewBox is the image size, so every mark lives in IMAGE pixels (origin top-left, y down)
// whatever the zoom, pan or screen size; the page only scales the SVG's box. Pointer Events give one
// code path for mouse, touch and pen (boxtool/pointer.js). Everything is operable from the keyboard too
// (boxtool/keyboard.js). This file owns the marks, the selection, undo history and rendering.
//
//   const tool = new BoxTool(svg, {width: 64, height: 64, tools: [{label: "clump", min: 0, max: 20}],
//                                  onChange: () => ..., onMessage: (text) => ...});
//   tool.marks  // [{tool, x_min, y_min, x_max, y_max}, ...]

import {clamp, el, normalise, round2, setAttrs} from "./boxtool/geometry.js";
import {focusIn, keyDown} from "./boxtool/keyboard.js";
import {makeMarkNode, updateMarkNode} from "./boxtool/marks.js";
import {pointerDown, pointerMove, pointerUp} from "./boxtool/pointer.js";

export class BoxTool {
  constructor(svg, {width, height, tools = [], onChange = () => {}, onMessage = () => {}} = {}) {
    this.svg = svg;
    this.onChange = onChange;
    this.onMessage = onMessage;
    this.enabled = true;
    this.visible = true;
    this._marks = [];        // [{id, tool, x_min, y_min, x_max, y_max}]
    this._nextId = 1;
    this._selected = null;   // mark id
    this._past = [];
    this._future = [];
    this._gesture = null;
    this._kbDraw = null;     // {anchor: {x, y}} while drawing with the keyboard
    this._nodes = new Map(); // mark id -> <g>
    this._hidden = new Set(); // mark ids hidden from view (still kept and submitted)

    svg.classList.add("boxtool");
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("role", "application");
    svg.setAttribute("aria-roledescription", "drawing area");
    this.layer = el("g", {class: "boxtool-marks"});
    this.preview = el("rect", {class: "boxtool-preview", visibility: "hidden"});
    this.cursor = el("g", {class: "boxtool-cursor", "aria-hidden": "true"});
    this.cursor.append(el("line", {class: "boxtool-cursor-h"}), el("line", {class: "boxtool-cursor-v"}));
    svg.append(this.layer, this.preview, this.cursor);

    svg.addEventListener("pointerdown", (e) => pointerDown(this, e));
    svg.addEventListener("pointermove", (e) => pointerMove(this, e));
    svg.addEventListener("pointerup", (e) => pointerUp(this, e));
    svg.addEventListener("pointercancel", () => this.cancelGesture());
    svg.addEventListener("keydown", (e) => keyDown(this, e));
    svg.addEventListener("focusin", (e) => focusIn(this, e));

    this.setImageSize(width, height);
    this.setTools(tools);
  }

  // ---- public API ----

  setImageSize(width, height) {
    this.width = width;
    this.height = height;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.kb = {x: Math.round(width / 2), y: Math.round(height / 2)};
    this.render();
  }

  setTools(tools) {
    this.tools = tools.map((t) => ({label: t.label, min: t.min ?? 0, max: t.max ?? 20}));
    this.activeTool = this.tools.length ? this.tools[0].label : null;
    this._updateLabel();
  }

  setActiveTool(label) {
    if (this.tools.some((t) => t.label === label)) this.activeTool = label;
    this._updateLabel();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) this.cancelGesture();
    this.svg.classList.toggle("is-disabled", !enabled);
    this.svg.setAttribute("tabindex", enabled ? "0" : "-1");
    this.render();
  }

  setVisible(visible) {
    this.visible = visible;
    this.svg.classList.toggle("is-hidden", !visible);
  }

  get marks() {
    return this._marks.map(({tool, x_min, y_min, x_max, y_max}) => ({
      tool, x_min: round2(x_min), y_min: round2(y_min), x_max: round2(x_max), y_max: round2(y_max),
    }));
  }

  setMarks(marks) {
    this.loadState({marks: marks.map((m) => ({id: this._nextId++, ...normalise(m)})), past: [], future: []});
  }

  // The marks with their undo history, so that Back and Next (and a reload) keep both.
  get state() {
    return {marks: this._marks.map((m) => ({...m})), past: this._past, future: this._future};
  }

  loadState({marks, past = [], future = []}) {
    this._marks = marks.map((m) => ({...m}));
    this._past = [...past];
    this._future = [...future];
    const ids = [marks, ...past.map((p) => p.marks), ...future.map((f) => f.marks)].flat().map((m) => m.id);
    this._nextId = Math.max(this._nextId, ...ids.map((id) => id + 1));
    this._selected = null;
    this._hidden.clear();
    this._kbDraw = null;
    this._changed();
  }

  // Read-only views of each mark for lists: [{id, index, tool, hidden, selected}].
  list() {
    return this._marks.map((m, index) => ({id: m.id, index, tool: m.tool, hidden: this._hidden.has(m.id),
                                           selected: m.id === this._selected}));
  }

  toggleHidden(id) {
    if (this._hidden.has(id)) this._hidden.delete(id); else this._hidden.add(id);
    if (this._hidden.has(id) && this._selected === id) this._selected = null;
    this._changed();
  }

  counts() {
    const out = Object.fromEntries(this.tools.map((t) => [t.label, 0]));
    for (const m of this._marks) out[m.tool] = (out[m.tool] ?? 0) + 1;
    return out;
  }

  // Messages for tools that have fewer marks than the workflow asks for; empty when all is well.
  problems() {
    const counts = this.counts();
    return this.tools
      .filter((t) => counts[t.label] < t.min)
      .map((t) => `Draw at least ${t.min} ${t.label} box${t.min === 1 ? "" : "es"} (${counts[t.label]} so far).`);
  }

  get canUndo() { return this._past.length > 0; }
  get canRedo() { return this._future.length > 0; }

  undo() {
    if (!this.canUndo) return false;
    this._future.push(this._snapshot());
    this._restore(this._past.pop());
    return true;
  }

  redo() {
    if (!this.canRedo) return false;
    this._past.push(this._snapshot());
    this._restore(this._future.pop());
    return true;
  }

  deleteSelected() {
    if (this._selected === null) return false;
    this.deleteMark(this._selected);
    this.svg.focus({preventScroll: true});
    return true;
  }

  deleteMark(id) {
    const index = this._marks.findIndex((m) => m.id === id);
    if (index < 0) return false;
    const before = this._snapshot();
    this._marks.splice(index, 1);
    if (this._selected === id) this._selected = null;
    this._commit(before);
    this.onMessage(`Box ${index + 1} deleted.`);
    return true;
  }

  select(id) {
    this._selected = id;
    if (id !== null) this._hidden.delete(id);  // a selected box is always shown
    this._changed();
  }


  get selectedIndex() {
    return this._marks.findIndex((m) => m.id === this._selected);
  }

  cancelGesture() {
    if (this._gesture) {
      if (this._gesture.before) this._restore(this._gesture.before);
      try { this.svg.releasePointerCapture(this._gesture.pointerId); } catch { /* already released */ }
    }
    this._gesture = null;
    this.preview.setAttribute("visibility", "hidden");
  }

  // Screen pixels per image pixel (the current zoom as the user sees it).
  scale() {
    const rect = this.svg.getBoundingClientRect();
    return rect.width > 0 ? rect.width / this.width : 1;
  }

  render() {
    const ppu = this.scale();
    const live = new Set();
    this._marks.forEach((mark) => live.add(mark.id));
    for (const [id, g] of this._nodes) {
      if (!live.has(id)) { g.remove(); this._nodes.delete(id); }
    }
    this._marks.forEach((mark, index) => {
      let g = this._nodes.get(mark.id);
      if (!g) {
        g = makeMarkNode(mark.id);
        this._nodes.set(mark.id, g);
      }
      // Keep DOM order = mark order (= Tab order), moving nodes only when needed: a moved node loses focus.
      const here = this.layer.children[index];
      if (here !== g) this.layer.insertBefore(g, here ?? null);
      updateMarkNode(g, mark, index,
                     {ppu, selected: mark.id === this._selected, enabled: this.enabled, tools: this.tools});
      g.classList.toggle("is-hidden-mark", this._hidden.has(mark.id));
    });
    const showCursor = this.enabled && this.svg.matches(":focus-visible") && this._selected === null;
    this.cursor.setAttribute("visibility", showCursor || this._kbDraw ? "visible" : "hidden");
    const c = this.cursor.children;
    const arm = 8 / ppu;
    setAttrs(c[0], {x1: this.kb.x - arm, x2: this.kb.x + arm, y1: this.kb.y, y2: this.kb.y});
    setAttrs(c[1], {x1: this.kb.x, x2: this.kb.x, y1: this.kb.y - arm, y2: this.kb.y + arm});
    if (this._kbDraw) {
      const b = normalise({x_min: this._kbDraw.anchor.x, y_min: this._kbDraw.anchor.y, x_max: this.kb.x, y_max: this.kb.y});
      this._showPreview(b);
    } else if (!this._gesture || this._gesture.kind !== "draw") {
      this.preview.setAttribute("visibility", "hidden");
    }
  }

  // ---- rendering helpers ----

  _showPreview(b) {
    setAttrs(this.preview, {x: b.x_min, y: b.y_min, width: b.x_max - b.x_min, height: b.y_max - b.y_min,
                            visibility: "visible"});
  }

  _updateLabel() {
    const tool = this.activeTool ?? "box";
    this.svg.setAttribute("aria-label",
      `Galaxy image, drawing area for ${tool} boxes. Press B or Enter to start a box at the cross, ` +
      "arrow keys to move the cross or size the box, Enter to finish, Escape to cancel. " +
      "Tab to a box to select it; arrows move it, Alt+arrows resize it, Delete removes it.");
  }

  // ---- history ----

  _snapshot() {
    return {marks: this._marks.map((m) => ({...m})), selected: this._selected};
  }

  _restore(snap) {
    this._marks = snap.marks.map((m) => ({...m}));
    this._selected = this._marks.some((m) => m.id === snap.selected) ? snap.selected : null;
    this._changed();
  }

  _commit(before) {
    const same = JSON.stringify(before.marks) === JSON.stringify(this._marks);
    if (!same) {
      this._past.push(before);
      this._future = [];
    }
    this._changed();
  }

  _changed() {
    this.render();
    this.onChange(this);
  }

  // ---- coordinates ----

  _toImage(e) {
    const rect = this.svg.getBoundingClientRect();
    return {
      x: clamp((e.clientX - rect.left) / rect.width * this.width, 0, this.width),
      y: clamp((e.clientY - rect.top) / rect.height * this.height, 0, this.height),
    };
  }

  _toolInfo(label) {
    return this.tools.find((t) => t.label === label);
  }

  _atMax() {
    const tool = this._toolInfo(this.activeTool);
    if (!tool) return true;
    if (this.counts()[tool.label] >= tool.max) {
      this.onMessage(`You can draw at most ${tool.max} ${tool.label} box${tool.max === 1 ? "" : "es"}. ` +
                     "Delete one to draw another.");
      return true;
    }
    return false;
  }

  // ---- adding a box (shared by pointer.js and keyboard.js) ----

  _addBox(b) {
    if (b.x_max - b.x_min < 0.5 || b.y_max - b.y_min < 0.5) {
      this.onMessage("That box was too thin; drag out both a width and a height.");
      this.render();
      return false;
    }
    const before = this._snapshot();
    const mark = {id: this._nextId++, ...b};
    this._marks.push(mark);
    this._selected = mark.id;
    this._commit(before);
    this.onMessage(`Box ${this._marks.length} drawn.`);
    return true;
  }
}
