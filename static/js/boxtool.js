// boxtool.js: a rectangle-drawing widget on an SVG overlay.
//
// The SVG's viewBox is the image size, so every mark lives in IMAGE pixels (origin top-left, y down)
// whatever the zoom, pan or screen size; the page only scales the SVG's box. Pointer Events give one
// code path for mouse, touch and pen. Everything is operable from the keyboard too.
//
//   const tool = new BoxTool(svg, {width: 64, height: 64, tools: [{label: "clump", min: 0, max: 20}],
//                                  onChange: () => ..., onMessage: (text) => ...});
//   tool.marks  // [{tool, x_min, y_min, x_max, y_max}, ...]

const SVG_NS = "http://www.w3.org/2000/svg";
const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const CLICK_SLOP_PX = 4;       // a pointer that moves less than this (on screen) is a click, not a box
const HANDLE_PX = 10;          // visible handle size on screen
const HANDLE_HIT_PX = 26;      // grab area on screen, large enough for a finger

const round2 = (v) => Math.round(v * 100) / 100;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function normalise(box) {
  return {
    tool: box.tool,
    x_min: Math.min(box.x_min, box.x_max),
    x_max: Math.max(box.x_min, box.x_max),
    y_min: Math.min(box.y_min, box.y_max),
    y_max: Math.max(box.y_min, box.y_max),
  };
}

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

    svg.classList.add("boxtool");
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("role", "application");
    svg.setAttribute("aria-roledescription", "drawing area");
    this.layer = el("g", {class: "boxtool-marks"});
    this.preview = el("rect", {class: "boxtool-preview", visibility: "hidden"});
    this.cursor = el("g", {class: "boxtool-cursor", "aria-hidden": "true"});
    this.cursor.append(el("line", {class: "boxtool-cursor-h"}), el("line", {class: "boxtool-cursor-v"}));
    svg.append(this.layer, this.preview, this.cursor);

    svg.addEventListener("pointerdown", (e) => this._onPointerDown(e));
    svg.addEventListener("pointermove", (e) => this._onPointerMove(e));
    svg.addEventListener("pointerup", (e) => this._onPointerUp(e));
    svg.addEventListener("pointercancel", () => this.cancelGesture());
    svg.addEventListener("keydown", (e) => this._onKeyDown(e));
    svg.addEventListener("focusin", (e) => this._onFocusIn(e));

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
    this._marks = marks.map((m) => ({id: this._nextId++, ...normalise(m)}));
    this._selected = null;
    this._past = [];
    this._future = [];
    this._kbDraw = null;
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
    const before = this._snapshot();
    const index = this._marks.findIndex((m) => m.id === this._selected);
    this._marks.splice(index, 1);
    this._selected = null;
    this._commit(before);
    this.onMessage(`Box ${index + 1} deleted.`);
    this.svg.focus({preventScroll: true});
    return true;
  }

  select(id) {
    this._selected = id;
    this.render();
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
        g = this._makeMarkNode(mark.id);
        this._nodes.set(mark.id, g);
      }
      // Keep DOM order = mark order (= Tab order), moving nodes only when needed: a moved node loses focus.
      const here = this.layer.children[index];
      if (here !== g) this.layer.insertBefore(g, here ?? null);
      this._updateMarkNode(g, mark, index, ppu);
    });
    const showCursor = this.enabled && this.svg.matches(":focus-visible") && this._selected === null;
    this.cursor.setAttribute("visibility", showCursor || this._kbDraw ? "visible" : "hidden");
    const c = this.cursor.children;
    const arm = 8 / ppu;
    this._setAttrs(c[0], {x1: this.kb.x - arm, x2: this.kb.x + arm, y1: this.kb.y, y2: this.kb.y});
    this._setAttrs(c[1], {x1: this.kb.x, x2: this.kb.x, y1: this.kb.y - arm, y2: this.kb.y + arm});
    if (this._kbDraw) {
      const b = normalise({x_min: this._kbDraw.anchor.x, y_min: this._kbDraw.anchor.y, x_max: this.kb.x, y_max: this.kb.y});
      this._showPreview(b);
    } else if (!this._gesture || this._gesture.kind !== "draw") {
      this.preview.setAttribute("visibility", "hidden");
    }
  }

  // ---- rendering helpers ----

  _makeMarkNode(id) {
    const g = el("g", {class: "mark", tabindex: "0", role: "button", "data-id": id});
    g.append(el("rect", {class: "mark-body", "data-part": "body"}));
    g.append(el("text", {class: "mark-label", "aria-hidden": "true"}));
    // Edge grab strips first, corners on top of them, then the visible squares.
    for (const h of ["n", "e", "s", "w", "nw", "ne", "se", "sw"]) g.append(el("rect", {class: "mark-hit", "data-handle": h}));
    for (const h of HANDLES) g.append(el("rect", {class: `mark-handle mark-handle-${h}`, "data-handle": h}));
    return g;
  }

  _updateMarkNode(g, mark, index, ppu) {
    const selected = mark.id === this._selected;
    g.classList.toggle("is-selected", selected);
    g.setAttribute("aria-pressed", String(selected));
    g.setAttribute("tabindex", this.enabled ? "0" : "-1");
    const w = mark.x_max - mark.x_min;
    const h = mark.y_max - mark.y_min;
    g.setAttribute("aria-label",
      `${mark.tool} box ${index + 1}: x ${round2(mark.x_min)} to ${round2(mark.x_max)}, ` +
      `y ${round2(mark.y_min)} to ${round2(mark.y_max)} pixels${selected ? ", selected" : ""}`);
    const [body, label, ...handles] = g.children;
    this._setAttrs(body, {x: mark.x_min, y: mark.y_min, width: w, height: h});
    const fs = 12 / ppu;
    this._setAttrs(label, {x: mark.x_min + 9 / ppu, y: mark.y_min - 4 / ppu, "font-size": fs});
    // With several tools the label names the tool too, so kinds differ by more than colour.
    label.textContent = this.tools.length > 1 ? `${index + 1} ${mark.tool}` : String(index + 1);
    g.dataset.toolIndex = String(Math.max(0, this.tools.findIndex((t) => t.label === mark.tool)));
    const points = this._handlePoints(mark);
    const hit = HANDLE_HIT_PX / ppu;
    for (const node of handles) {
      const name = node.dataset.handle;
      const [px, py] = points[name];
      if (node.classList.contains("mark-hit") && name.length === 1) {
        // Edge grab areas run along the whole side (between the corners), not just around the midpoint.
        const horizontal = name === "n" || name === "s";
        const along = Math.max(0, (horizontal ? w : h) - hit);
        this._setAttrs(node, horizontal
          ? {x: px - along / 2, y: py - hit / 2, width: along, height: hit}
          : {x: px - hit / 2, y: py - along / 2, width: hit, height: along});
      } else {
        const size = node.classList.contains("mark-hit") ? hit : HANDLE_PX / ppu;
        this._setAttrs(node, {x: px - size / 2, y: py - size / 2, width: size, height: size});
      }
      node.setAttribute("visibility", selected && this.enabled ? "visible" : "hidden");
    }
  }

  _handlePoints(m) {
    const cx = (m.x_min + m.x_max) / 2;
    const cy = (m.y_min + m.y_max) / 2;
    return {
      nw: [m.x_min, m.y_min], n: [cx, m.y_min], ne: [m.x_max, m.y_min], e: [m.x_max, cy],
      se: [m.x_max, m.y_max], s: [cx, m.y_max], sw: [m.x_min, m.y_max], w: [m.x_min, cy],
    };
  }

  _showPreview(b) {
    this._setAttrs(this.preview, {x: b.x_min, y: b.y_min, width: b.x_max - b.x_min, height: b.y_max - b.y_min,
                                  visibility: "visible"});
  }

  _setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
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

  // ---- pointer ----

  _onPointerDown(e) {
    if (!this.enabled || this._gesture) return;
    if (e.pointerType === "mouse" && e.button !== 0) return;
    const p = this._toImage(e);
    const markNode = e.target.closest?.(".mark");
    const handle = e.target.dataset?.handle;
    const id = markNode ? Number(markNode.dataset.id) : null;
    e.preventDefault();
    this.svg.focus({preventScroll: true, focusVisible: false});
    this._kbDraw = null;
    const base = {pointerId: e.pointerId, start: p, startScreen: {x: e.clientX, y: e.clientY}};
    if (markNode && (handle ? id === this._selected : true)) {
      const mark = this._marks.find((m) => m.id === id);
      this._selected = id;
      this._gesture = {...base, kind: handle ? "resize" : "move", handle, id, before: this._snapshot(),
                       orig: {...mark}};
    } else {
      this._selected = null;
      this._gesture = {...base, kind: "draw"};
    }
    this.svg.setPointerCapture(e.pointerId);
    this.render();
    this.onChange(this);  // the selection may have changed
  }

  _onPointerMove(e) {
    const g = this._gesture;
    if (!g || e.pointerId !== g.pointerId) return;
    e.preventDefault();
    const p = this._toImage(e);
    const moved = Math.hypot(e.clientX - g.startScreen.x, e.clientY - g.startScreen.y) >= CLICK_SLOP_PX;
    if (g.kind === "draw") {
      if (!g.dragging && moved) {
        if (this._atMax()) { this.cancelGesture(); return; }
        g.dragging = true;
      }
      if (g.dragging) this._showPreview(normalise({x_min: g.start.x, y_min: g.start.y, x_max: p.x, y_max: p.y}));
      return;
    }
    if (!g.dragging && !moved) return;
    g.dragging = true;
    const mark = this._marks.find((m) => m.id === g.id);
    const o = g.orig;
    if (g.kind === "move") {
      const w = o.x_max - o.x_min;
      const h = o.y_max - o.y_min;
      const x = clamp(o.x_min + p.x - g.start.x, 0, this.width - w);
      const y = clamp(o.y_min + p.y - g.start.y, 0, this.height - h);
      Object.assign(mark, {x_min: x, y_min: y, x_max: x + w, y_max: y + h});
    } else {
      const next = {...o};
      const dx = p.x - g.start.x;
      const dy = p.y - g.start.y;
      if (g.handle.includes("w")) next.x_min = clamp(o.x_min + dx, 0, this.width);
      if (g.handle.includes("e")) next.x_max = clamp(o.x_max + dx, 0, this.width);
      if (g.handle.includes("n")) next.y_min = clamp(o.y_min + dy, 0, this.height);
      if (g.handle.includes("s")) next.y_max = clamp(o.y_max + dy, 0, this.height);
      Object.assign(mark, normalise(next));
    }
    this.render();
  }

  _onPointerUp(e) {
    const g = this._gesture;
    if (!g || e.pointerId !== g.pointerId) return;
    this._gesture = null;
    try { this.svg.releasePointerCapture(e.pointerId); } catch { /* already released */ }
    this.preview.setAttribute("visibility", "hidden");
    if (g.kind === "draw") {
      if (!g.dragging) { this.render(); return; }  // a click makes no box
      const b = normalise({tool: this.activeTool, x_min: g.start.x, y_min: g.start.y, ...this._end(e)});
      this._addBox(b);
      return;
    }
    const mark = this._marks.find((m) => m.id === g.id);
    if (mark.x_max - mark.x_min <= 0 || mark.y_max - mark.y_min <= 0) {
      this._restore(g.before);
      this.onMessage("A box needs a width and a height; the change was undone.");
      return;
    }
    this._commit(g.before);
  }

  _end(e) {
    const p = this._toImage(e);
    return {x_max: p.x, y_max: p.y};
  }

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

  // ---- keyboard ----

  _onFocusIn(e) {
    const markNode = e.target.closest?.(".mark");
    if (markNode && this._selected !== Number(markNode.dataset.id)) {
      this._selected = Number(markNode.dataset.id);
      this.onChange(this);
    }
    this.render();
    if (!this._blurBound) {
      this._blurBound = true;
      this.svg.addEventListener("focusout", () => requestAnimationFrame(() => this.render()));
    }
  }

  _onKeyDown(e) {
    if (!this.enabled || e.ctrlKey || e.metaKey) return;
    const step = e.shiftKey ? 10 : 1;
    const arrows = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
    const key = e.key;
    let handled = true;
    if (key in arrows) {
      const [dx, dy] = arrows[key];
      if (this._kbDraw || this._selected === null) {
        this.kb = {x: clamp(this.kb.x + dx, 0, this.width), y: clamp(this.kb.y + dy, 0, this.height)};
        this.render();
      } else if (e.altKey) {
        this._resizeSelected(dx, dy);
      } else {
        this._nudgeSelected(dx, dy);
      }
    } else if (key === "b" || key === "B" || key === "Enter") {
      if (this._kbDraw) {
        this._finishKeyboardBox();
      } else if (key === "Enter" && this._selected !== null) {
        this._selected = null;  // Enter on a selected box lets go of it
        this.svg.focus({preventScroll: true});
        this._changed();
      } else if (!this._atMax()) {
        this._selected = null;
        this._kbDraw = {anchor: {...this.kb}};
        this.svg.focus({preventScroll: true});
        this.onMessage("Box started. Use the arrow keys to size it and Enter to finish.");
        this.render();
      }
    } else if (key === "Escape") {
      if (this._kbDraw) {
        this._kbDraw = null;
        this.onMessage("Box cancelled.");
      } else if (this._selected !== null) {
        this._selected = null;
        this.svg.focus({preventScroll: true});
        this.onChange(this);
      } else {
        handled = false;
      }
      this.render();
    } else if (key === "Delete" || key === "Backspace") {
      handled = this.deleteSelected();
    } else {
      handled = false;
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  _finishKeyboardBox() {
    const a = this._kbDraw.anchor;
    this._kbDraw = null;
    const b = normalise({tool: this.activeTool, x_min: a.x, y_min: a.y, x_max: this.kb.x, y_max: this.kb.y});
    if (!this._addBox(b)) return;
    this._focusSelected();
  }

  _focusSelected() {
    const node = this._nodes.get(this._selected);
    if (node) node.focus({preventScroll: true});
  }

  _nudgeSelected(dx, dy) {
    const before = this._snapshot();
    const m = this._marks.find((x) => x.id === this._selected);
    const w = m.x_max - m.x_min;
    const h = m.y_max - m.y_min;
    const x = clamp(m.x_min + dx, 0, this.width - w);
    const y = clamp(m.y_min + dy, 0, this.height - h);
    Object.assign(m, {x_min: x, y_min: y, x_max: x + w, y_max: y + h});
    this._commit(before);
    this._focusSelected();
  }

  _resizeSelected(dx, dy) {
    const before = this._snapshot();
    const m = this._marks.find((x) => x.id === this._selected);
    const xMax = clamp(m.x_max + dx, m.x_min + 1, this.width);
    const yMax = clamp(m.y_max + dy, m.y_min + 1, this.height);
    Object.assign(m, {x_max: xMax, y_max: yMax});
    this._commit(before);
    this._focusSelected();
  }
}
