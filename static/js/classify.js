// classify.js: the volunteer's classify page. Walks the workflow's task tree, drives the image viewer
// (zoom, pan, stretch, invert, flipbook) and the box tool, and submits classifications.
import {BoxTool} from "./boxtool.js";

const config = JSON.parse(document.getElementById("classify-config").textContent);
const $ = (id) => document.getElementById(id);

const STORE = {tutorial: "zooloop.tutorial.seen.v1", feedback: "zooloop.feedback.optin"};
const ZOOM_MIN = 0.5;
const ZOOM_MAX = 40;
const ZOOM_STEP = 1.25;

const store = {
  get(key) { try { return localStorage.getItem(key); } catch { return null; } },
  set(key, value) { try { localStorage.setItem(key, value); } catch { /* private mode: forget quietly */ } },
};

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.matches("input, select, textarea") || target.isContentEditable);
}

// ------------------------------------------------------------------ status line

const statusEl = $("status");
function setStatus(text, kind = "info") {
  statusEl.textContent = text;
  statusEl.dataset.kind = kind;
}

// ------------------------------------------------------------------ image viewer

const viewer = {
  el: $("viewer"),
  stage: $("stage"),
  canvas: $("image-canvas"),
  frames: [],         // [{label, image: HTMLImageElement, data: ImageData}]
  frame: 0,
  width: 1,
  height: 1,
  zoom: 1,            // relative to "fit"
  tx: 0,
  ty: 0,
  stretch: "linear",
  inverted: false,
  panMode: false,
  spaceHeld: false,
  playTimer: null,

  fit() {
    const r = this.el.getBoundingClientRect();
    return Math.min(r.width / this.width, r.height / this.height) || 1;
  },

  scale() { return this.fit() * this.zoom; },

  reset() {
    this.zoom = 1;
    const r = this.el.getBoundingClientRect();
    const s = this.scale();
    this.tx = (r.width - this.width * s) / 2;
    this.ty = (r.height - this.height * s) / 2;
    this.layout();
  },

  // Zoom by `factor` keeping the image point under (px, py) (viewer coordinates) fixed.
  zoomAt(factor, px, py) {
    const before = this.scale();
    this.zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.zoom * factor));
    const after = this.scale();
    this.tx = px - (px - this.tx) * (after / before);
    this.ty = py - (py - this.ty) * (after / before);
    this.layout();
  },

  zoomCentre(factor) {
    const r = this.el.getBoundingClientRect();
    this.zoomAt(factor, r.width / 2, r.height / 2);
  },

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.layout();
  },

  layout() {
    const s = this.scale();
    const r = this.el.getBoundingClientRect();
    // Keep at least a quarter of the image on screen so it can never be lost.
    const w = this.width * s;
    const hgt = this.height * s;
    this.tx = Math.min(r.width - w / 4, Math.max(-w * 3 / 4, this.tx));
    this.ty = Math.min(r.height - hgt / 4, Math.max(-hgt * 3 / 4, this.ty));
    const st = this.stage.style;
    st.width = `${w}px`;
    st.height = `${hgt}px`;
    st.transform = `translate(${this.tx}px, ${this.ty}px)`;
    $("zoom-label").textContent = `${Math.round(this.zoom * 100)}%`;
    tool?.render();
  },

  async load(frames) {
    this.stopPlay();
    this.el.classList.add("is-loading");
    const loaded = await Promise.all(frames.map((f) => new Promise((resolve, reject) => {
      const img = new Image();
      img.decoding = "async";
      img.onload = () => resolve({label: f.label, image: img, data: null});
      img.onerror = () => reject(new Error(`could not load ${f.url}`));
      img.src = f.url;
    })));
    this.frames = loaded;
    this.frame = 0;
    this.width = loaded[0].image.naturalWidth;
    this.height = loaded[0].image.naturalHeight;
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    this.el.classList.remove("is-loading");
    $("flipbook").hidden = loaded.length < 2;
    this.draw();
    this.reset();
  },

  pixels(frame) {
    if (!frame.data && !frame.tainted) {
      const off = document.createElement("canvas");
      off.width = this.width;
      off.height = this.height;
      const ctx = off.getContext("2d", {willReadFrequently: true});
      ctx.drawImage(frame.image, 0, 0, this.width, this.height);
      try {
        frame.data = ctx.getImageData(0, 0, this.width, this.height);
      } catch {
        // An image from another origin without CORS headers: show it, but its pixels cannot be stretched.
        frame.tainted = true;
      }
    }
    return frame.data;
  },

  // Apply the brightness stretch and inversion to the frame's pixels through a 256-entry lookup table.
  draw() {
    const frame = this.frames[this.frame];
    if (!frame) return;
    const ctx = this.canvas.getContext("2d");
    const src = this.pixels(frame);
    $("stretch").disabled = !src;
    if (!src) {
      ctx.filter = this.inverted ? "invert(1)" : "none";
      ctx.drawImage(frame.image, 0, 0, this.width, this.height);
      ctx.filter = "none";
      this.el.dataset.frame = frame.label;
      return;
    }
    const lut = new Uint8ClampedArray(256);
    for (let i = 0; i < 256; i++) {
      const v = i / 255;
      let out = v;
      if (this.stretch === "asinh") out = Math.asinh(10 * v) / Math.asinh(10);
      else if (this.stretch === "log") out = Math.log1p(100 * v) / Math.log1p(100);
      if (this.inverted) out = 1 - out;
      lut[i] = Math.round(out * 255);
    }
    const img = new ImageData(this.width, this.height);
    const s = src.data;
    const d = img.data;
    for (let i = 0; i < s.length; i += 4) {
      d[i] = lut[s[i]];
      d[i + 1] = lut[s[i + 1]];
      d[i + 2] = lut[s[i + 2]];
      d[i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const label = this.frames.length > 1 ? `${frame.label} (${this.frame + 1} of ${this.frames.length})` : "";
    $("frame-label").textContent = label;
    this.el.dataset.frame = frame.label;
  },

  showFrame(i) {
    const n = this.frames.length;
    this.frame = ((i % n) + n) % n;
    this.draw();
  },

  togglePlay() {
    if (this.playTimer) { this.stopPlay(); return; }
    this.playTimer = setInterval(() => this.showFrame(this.frame + 1), 700);
    $("frame-play").setAttribute("aria-pressed", "true");
    $("frame-play").setAttribute("aria-label", "Pause frames");
  },

  stopPlay() {
    clearInterval(this.playTimer);
    this.playTimer = null;
    $("frame-play").setAttribute("aria-pressed", "false");
    $("frame-play").setAttribute("aria-label", "Play frames");
  },

  setPanMode(on) {
    this.panMode = on;
    $("pan-mode").setAttribute("aria-pressed", String(on));
    this.el.classList.toggle("is-pan", on);
  },
};

// Pan and pinch are handled on the viewer in the capture phase, so they win over the box tool
// whenever pan mode is on, Space is held, the middle button is used, or a second finger lands.
const gestures = {pointers: new Map(), pan: null, pinch: null};

function viewerPoint(e) {
  const r = viewer.el.getBoundingClientRect();
  return {x: e.clientX - r.left, y: e.clientY - r.top};
}

viewer.el.addEventListener("pointerdown", (e) => {
  if (e.pointerType === "touch") gestures.pointers.set(e.pointerId, viewerPoint(e));
  if (gestures.pointers.size === 2) {
    tool.cancelGesture();
    gestures.pan = null;
    const [a, b] = [...gestures.pointers.values()];
    gestures.pinch = {dist: Math.hypot(a.x - b.x, a.y - b.y), mid: {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2}};
    for (const id of gestures.pointers.keys()) {
      try { viewer.el.setPointerCapture(id); } catch { /* pointer gone */ }
    }
    e.stopPropagation();
    e.preventDefault();
    return;
  }
  const wantsPan = viewer.panMode || viewer.spaceHeld || e.button === 1 || !tool.enabled;
  if (wantsPan && !gestures.pinch) {
    gestures.pan = {id: e.pointerId, last: viewerPoint(e)};
    viewer.el.setPointerCapture(e.pointerId);
    viewer.el.classList.add("is-panning");
    e.stopPropagation();
    e.preventDefault();
  }
}, {capture: true});

viewer.el.addEventListener("pointermove", (e) => {
  if (gestures.pointers.has(e.pointerId)) gestures.pointers.set(e.pointerId, viewerPoint(e));
  if (gestures.pinch && gestures.pointers.size >= 2) {
    const [a, b] = [...gestures.pointers.values()];
    const dist = Math.hypot(a.x - b.x, a.y - b.y);
    const mid = {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2};
    viewer.panBy(mid.x - gestures.pinch.mid.x, mid.y - gestures.pinch.mid.y);
    if (gestures.pinch.dist > 0) viewer.zoomAt(dist / gestures.pinch.dist, mid.x, mid.y);
    gestures.pinch = {dist, mid};
    e.stopPropagation();
    return;
  }
  if (gestures.pan && e.pointerId === gestures.pan.id) {
    const p = viewerPoint(e);
    viewer.panBy(p.x - gestures.pan.last.x, p.y - gestures.pan.last.y);
    gestures.pan.last = p;
    e.stopPropagation();
  }
}, {capture: true});

function endPointer(e) {
  gestures.pointers.delete(e.pointerId);
  if (gestures.pinch) {
    if (gestures.pointers.size < 2) gestures.pinch = null;
    e.stopPropagation();
    return;
  }
  if (gestures.pan && e.pointerId === gestures.pan.id) {
    gestures.pan = null;
    viewer.el.classList.remove("is-panning");
    e.stopPropagation();
  }
}
viewer.el.addEventListener("pointerup", endPointer, {capture: true});
viewer.el.addEventListener("pointercancel", endPointer, {capture: true});

viewer.el.addEventListener("wheel", (e) => {
  e.preventDefault();
  const p = viewerPoint(e);
  viewer.zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
}, {passive: false});

viewer.el.addEventListener("auxclick", (e) => e.preventDefault());
new ResizeObserver(() => {
  if (!viewer.frames.length) return;
  if (viewer.zoom === 1) viewer.reset(); else viewer.layout();  // an untouched view stays centred
}).observe(viewer.el);

$("zoom-in").addEventListener("click", () => viewer.zoomCentre(ZOOM_STEP));
$("zoom-out").addEventListener("click", () => viewer.zoomCentre(1 / ZOOM_STEP));
$("zoom-reset").addEventListener("click", () => viewer.reset());
$("pan-mode").addEventListener("click", () => viewer.setPanMode(!viewer.panMode));
$("invert").addEventListener("click", () => {
  viewer.inverted = !viewer.inverted;
  $("invert").setAttribute("aria-pressed", String(viewer.inverted));
  viewer.draw();
});
$("stretch").addEventListener("change", (e) => {
  viewer.stretch = e.target.value;
  viewer.draw();
});
$("frame-prev").addEventListener("click", () => { viewer.stopPlay(); viewer.showFrame(viewer.frame - 1); });
$("frame-next").addEventListener("click", () => { viewer.stopPlay(); viewer.showFrame(viewer.frame + 1); });
$("frame-play").addEventListener("click", () => viewer.togglePlay());

// ------------------------------------------------------------------ box tool

const tool = new BoxTool($("marks"), {
  width: 1,
  height: 1,
  onChange: () => refreshNav(),
  onMessage: (text) => setStatus(text),
});

// ------------------------------------------------------------------ the task tree

const tree = config.workflow.tree;
const SUMMARY = "__summary__";
const FEEDBACK = "__feedback__";

const state = {
  subject: null,
  path: [],              // task keys visited, the current one last (or SUMMARY / FEEDBACK)
  answers: new Map(),    // task key -> value
  idempotencyKey: null,
  startedAt: null,
  saving: false,
  count: Number(config.user.n_classifications) || 0,
  nextStatus: "",
};

const current = () => state.path[state.path.length - 1];
const currentTask = () => tree.tasks[current()] ?? null;
const isQuestion = (task) => task && (task.type === "single" || task.type === "multiple");

function annotations() {
  const out = [];
  for (const key of state.path) {
    const task = tree.tasks[key];
    if (!task) continue;
    if (task.type === "drawing") out.push({task: key, value: state.answers.get(key) ?? []});
    else out.push({task: key, value: state.answers.get(key)});
  }
  return out;
}

function saveDrawing() {
  const task = currentTask();
  if (task?.type === "drawing") state.answers.set(current(), tool.marks);
}

function goTo(key) {
  saveDrawing();
  state.path.push(key ?? SUMMARY);
  render();
}

function goBack() {
  if (state.path.length < 2 || state.saving) return;
  saveDrawing();
  state.path.pop();
  render();
}

// Jump back to a task from the summary; everything after it is asked again.
function revisit(key) {
  saveDrawing();
  const i = state.path.indexOf(key);
  if (i >= 0) state.path = state.path.slice(0, i + 1);
  render();
}

function chooseSingle(task, answer) {
  state.answers.set(current(), answer.label);
  goTo(answer.next);
}

function toggleMultiple(key, label) {
  const chosen = new Set(state.answers.get(key) ?? []);
  if (chosen.has(label)) chosen.delete(label); else chosen.add(label);
  const order = tree.tasks[key].answers.map((a) => a.label);
  state.answers.set(key, order.filter((l) => chosen.has(l)));
  render();
}

function next() {
  if (state.saving) return;
  const key = current();
  const task = currentTask();
  if (key === SUMMARY) { submit(); return; }
  if (key === FEEDBACK) { loadNext(); return; }
  if (!task) return;
  if (task.type === "single") {
    const label = state.answers.get(key);
    const answer = task.answers.find((a) => a.label === label);
    if (answer) chooseSingle(task, answer); else setStatus("Pick an answer first.", "warn");
    return;
  }
  if (task.type === "multiple") {
    if (!state.answers.has(key)) state.answers.set(key, []);
    goTo(task.next);
    return;
  }
  const problems = tool.problems();
  if (problems.length) { setStatus(problems.join(" "), "warn"); return; }
  goTo(task.next);
}

// ------------------------------------------------------------------ rendering the task area

const area = $("task-area");

function render() {
  const focusLabel = document.activeElement?.dataset?.label;
  const key = current();
  const task = currentTask();
  $("classify").dataset.state = key === SUMMARY ? "summary" : key === FEEDBACK ? "feedback" : "task";
  area.replaceChildren();
  setStatus(state.nextStatus);
  state.nextStatus = "";
  const drawingOnPath = state.path.some((k) => tree.tasks[k]?.type === "drawing");
  if (task?.type === "drawing") {
    tool.setTools(task.tools);
    tool.setMarks(state.answers.get(key) ?? []);
  } else {
    tool.select(null);
  }
  tool.setEnabled(task?.type === "drawing" && !state.saving);
  tool.setVisible(drawingOnPath);
  $("viewer").classList.toggle("is-drawing", task?.type === "drawing");

  if (key === SUMMARY) renderSummary();
  else if (key === FEEDBACK) { /* filled by showFeedback */ }
  else if (isQuestion(task)) renderQuestion(key, task);
  else if (task) renderDrawing(key, task);

  renderHelp(task);
  refreshNav();
  // Move focus to the new question (so screen readers announce it), but not when the step stays the same.
  const step = `${state.path.length}:${key}`;
  const heading = area.querySelector("h2");
  const firstRender = state.lastStep === undefined;  // on page load focus stays at the top, as usual
  if (heading && !firstRender && step !== state.lastStep && !$("marks").contains(document.activeElement)) {
    heading.focus({preventScroll: true});
  } else if (step === state.lastStep && focusLabel) {
    area.querySelector(`[data-label="${CSS.escape(focusLabel)}"]`)?.focus({preventScroll: true});
  }
  if (!firstRender && step !== state.lastStep && task?.type === "drawing") {
    // On a phone the questions sit below the image: bring the image back into view to draw on it.
    const r = viewer.el.getBoundingClientRect();
    if (r.top < 0) viewer.el.scrollIntoView({block: "nearest"});
  }
  state.lastStep = step;
}

function stepLabel() {
  const n = state.path.filter((k) => tree.tasks[k]).length;
  return `Step ${n}`;
}

function renderQuestion(key, task) {
  const chosen = state.answers.get(key);
  const multiple = task.type === "multiple";
  const list = h("div", {class: "answers", role: "group", "aria-labelledby": "task-question"});
  task.answers.forEach((answer, i) => {
    const selected = multiple ? (chosen ?? []).includes(answer.label) : chosen === answer.label;
    const hotkey = i < 9 ? String(i + 1) : null;
    const button = h("button", {
      type: "button",
      class: `answer${selected ? " is-selected" : ""}`,
      "aria-pressed": String(selected),
      "data-label": answer.label,
      "aria-keyshortcuts": hotkey,
      onclick: () => (multiple ? toggleMultiple(key, answer.label) : chooseSingle(task, answer)),
    },
    hotkey ? h("kbd", {class: "answer-key", "aria-hidden": "true", text: hotkey}) : null,
    h("span", {class: "answer-text", text: answer.text}),
    h("span", {class: "answer-mark", "aria-hidden": "true", text: selected ? "✓" : ""}));
    list.append(button);
  });
  area.append(h("p", {class: "step", text: stepLabel()}), h("h2", {id: "task-question", tabindex: "-1", text: task.question}));
  if (multiple) area.append(h("p", {class: "muted hint", text: "Choose all that apply, then Next."}));
  area.append(list);
}

function chooseTool(label) {
  tool.setActiveTool(label);
  for (const b of area.querySelectorAll(".tool-choice")) {
    b.setAttribute("aria-pressed", String(b.dataset.tool === label));
  }
  setStatus(`Drawing ${label} boxes.`);
}

function renderDrawing(key, task) {
  const counts = tool.counts();
  const several = task.tools.length > 1;
  const toolList = h("ul", {class: "tool-list"});
  task.tools.forEach((t, i) => {
    const limits = ` (at most ${t.max}${t.min ? `, at least ${t.min}` : ""})`;
    const parts = [
      several ? h("kbd", {"aria-hidden": "true", text: String(i + 1)}) : null,
      h("span", {class: "swatch", "data-tool-index": String(i), "aria-hidden": "true"}),
      h("span", {text: `${t.label}: `}),
      h("strong", {class: "tool-count-n", text: String(counts[t.label] ?? 0)}),
      h("span", {class: "muted", text: limits}),
    ];
    // With several tools each row is a toggle that picks the tool new boxes are drawn with.
    const row = several
      ? h("button", {type: "button", class: "tool-choice", "data-tool": t.label, "aria-keyshortcuts": i < 9 ? String(i + 1) : null,
                     "aria-pressed": String(t.label === tool.activeTool), onclick: () => chooseTool(t.label)}, ...parts)
      : h("span", {}, ...parts);
    toolList.append(h("li", {class: "tool-count", "data-tool": t.label}, row));
  });
  const editRow = h("div", {class: "edit-row"},
    h("button", {type: "button", class: "button button-small", id: "undo", "aria-keyshortcuts": "Control+Z",
                 onclick: () => tool.undo()}, "↶ Undo"),
    h("button", {type: "button", class: "button button-small", id: "redo", "aria-keyshortcuts": "Control+Shift+Z",
                 onclick: () => tool.redo()}, "↷ Redo"),
    h("button", {type: "button", class: "button button-small button-danger", id: "delete-box",
                 onclick: () => tool.deleteSelected()}, "Delete box"));
  area.append(
    h("p", {class: "step", text: stepLabel()}),
    h("h2", {id: "task-question", tabindex: "-1", text: task.question}),
    h("p", {class: "muted hint", text: "Drag on the image to draw a box. Drag a box to move it, or its handles to resize it."}),
    toolList,
    editRow,
  );
}

function answerText(task, value) {
  if (task.type === "single") return task.answers.find((a) => a.label === value)?.text ?? value;
  if (task.type === "multiple") {
    const texts = (value ?? []).map((v) => task.answers.find((a) => a.label === v)?.text ?? v);
    return texts.length ? texts.join(", ") : "None";
  }
  const n = (value ?? []).length;
  return n === 0 ? "No boxes drawn" : `${n} box${n === 1 ? "" : "es"} drawn`;
}

function renderSummary() {
  const list = h("dl", {class: "summary"});
  for (const key of state.path) {
    const task = tree.tasks[key];
    if (!task) continue;
    list.append(h("div", {class: "summary-row"},
      h("dt", {text: task.question}),
      h("dd", {}, h("span", {class: "summary-answer", text: answerText(task, state.answers.get(key))}),
        h("button", {type: "button", class: "link-button change", "aria-label": `Change answer to: ${task.question}`,
                     onclick: () => revisit(key)}, "Change"))));
  }
  area.append(
    h("h2", {id: "task-question", tabindex: "-1", text: "Check your answers"}),
    list,
    h("p", {class: "muted hint", text: "Press Done to save your classification."}),
  );
}

function renderHelp(task) {
  const wrap = $("task-help");
  const text = $("help-text");
  wrap.hidden = !task?.help;
  text.textContent = task?.help ?? "";
  text.hidden = true;
  $("help-toggle").setAttribute("aria-expanded", "false");
}

function refreshNav() {
  $("task-nav").hidden = false;
  const key = current();
  const task = currentTask();
  const back = $("back");
  const nextBtn = $("next");
  back.hidden = key === FEEDBACK || state.path.length < 2;
  back.disabled = state.saving;
  nextBtn.hidden = false;
  nextBtn.disabled = state.saving;
  if (key === SUMMARY) {
    nextBtn.textContent = state.saving ? "Saving…" : "Done";
  } else if (key === FEEDBACK) {
    nextBtn.textContent = "Next galaxy →";
  } else if (task?.type === "single") {
    nextBtn.textContent = "Next →";
    nextBtn.hidden = !state.answers.has(key);
  } else if (task?.type === "drawing") {
    const problems = tool.problems();
    nextBtn.textContent = "Next →";
    nextBtn.disabled = state.saving || problems.length > 0;
    if (problems.length) setStatus(problems.join(" "), "warn");
    const counts = tool.counts();
    for (const row of area.querySelectorAll(".tool-count")) {
      row.querySelector(".tool-count-n").textContent = String(counts[row.dataset.tool] ?? 0);
    }
    const undo = $("undo");
    if (undo) {
      undo.disabled = !tool.canUndo;
      $("redo").disabled = !tool.canRedo;
      $("delete-box").disabled = tool.selectedIndex < 0;
    }
  } else if (task) {
    nextBtn.textContent = "Next →";
  } else {
    nextBtn.hidden = true;
    back.hidden = true;
  }
}

$("back").addEventListener("click", goBack);
$("next").addEventListener("click", next);
$("help-toggle").addEventListener("click", () => {
  const text = $("help-text");
  text.hidden = !text.hidden;
  $("help-toggle").setAttribute("aria-expanded", String(!text.hidden));
});

// ------------------------------------------------------------------ subjects

function setCount(n) {
  state.count = n;
  $("count-number").textContent = String(n);
  $("count-word").textContent = n === 1 ? "classification" : "classifications";
}

async function showSubject(subject) {
  state.subject = subject;
  state.path = [tree.first_task];
  state.answers = new Map();
  state.idempotencyKey = uuid4();
  state.saving = false;
  $("classify").dataset.subject = String(subject.id);
  const {name, ...rest} = subject.metadata ?? {};
  const extra = Object.entries(rest).filter(([, v]) => ["string", "number"].includes(typeof v)).slice(0, 4)
    .map(([k, v]) => `${k}: ${v}`);
  $("subject-caption").textContent = [name ? `Galaxy ${name}` : `Subject ${subject.id}`, ...extra].join(" · ");
  setFavourite(Boolean(subject.favourite));
  let failed = null;
  try {
    await viewer.load(subject.frames);
  } catch (err) {
    failed = err;
  }
  tool.setImageSize(viewer.width, viewer.height);
  state.startedAt = new Date().toISOString();
  render();
  $("classify").classList.add("is-ready");
  if (failed) showImageError(failed);
}

// Nobody can classify a galaxy they cannot see: say so and offer another one.
function showImageError(err) {
  viewer.el.classList.remove("is-loading");
  $("classify").dataset.state = "image-error";
  tool.setEnabled(false);
  area.replaceChildren(
    h("h2", {id: "task-question", tabindex: "-1", text: "This galaxy's image did not load"}),
    h("p", {text: `${err.message}. Your connection may have dropped, or the image is missing on the server.`}),
    h("button", {type: "button", class: "button button-primary", id: "skip-broken", onclick: () => loadNext()},
      "Show another galaxy"));
  $("task-help").hidden = true;
  $("task-nav").hidden = true;
  setStatus("The image could not be loaded.", "error");
}

function showFinished(message) {
  state.subject = null;
  state.path = [];
  viewer.stopPlay();
  $("classify").dataset.state = "finished";
  $("classify").classList.add("is-finished", "is-ready");
  document.querySelector(".viewer-panel").inert = true;
  $("viewer-loading").textContent = "No galaxy left to show";
  $("subject-caption").textContent = "";
  tool.setEnabled(false);
  tool.setVisible(false);
  area.replaceChildren(
    h("h2", {id: "task-question", tabindex: "-1", text: "All done here"}),
    h("p", {class: "finished-message", text: message || "You have classified every galaxy in this workflow. Thank you!"}),
    h("p", {}, h("a", {class: "button button-primary", href: config.urls.stats}, "See my stats")));
  $("task-help").hidden = true;
  refreshNav();
  if (state.lastStep !== undefined) area.querySelector("h2").focus({preventScroll: true});
}

async function loadNext() {
  state.saving = true;
  refreshNav();
  setStatus("Loading the next galaxy…");
  try {
    const sep = config.urls.queue.includes("?") ? "&" : "?";
    const res = await fetch(`${config.urls.queue}${sep}n=1`, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || `the server answered ${res.status}`);
    const status = state.nextStatus;
    if (body.finished || !body.subjects?.length) { showFinished(body.message); setStatus(status); return; }
    state.nextStatus = status;
    await showSubject(body.subjects[0]);
  } catch (err) {
    state.saving = false;
    refreshNav();
    setStatus(`Could not load the next galaxy: ${err.message}. Press Next to try again.`, "error");
  }
}

// ------------------------------------------------------------------ submit

async function submit() {
  if (state.saving || !state.subject) return;
  state.saving = true;
  refreshNav();
  tool.setEnabled(false);
  $("task-nav").setAttribute("aria-busy", "true");
  setStatus("Saving your classification…", "busy");
  const body = {
    subject: state.subject.id,
    workflow_version: config.workflow.version,
    idempotency_key: state.idempotencyKey,
    started_at: state.startedAt,
    finished_at: new Date().toISOString(),
    annotations: annotations(),
  };
  let res;
  let data = {};
  try {
    res = await fetch(config.urls.classifications, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body),
    });
    data = await res.json().catch(() => ({}));
  } catch {
    return submitFailed("Could not reach the server. Your answers are kept: check your connection and press Done again.");
  } finally {
    $("task-nav").removeAttribute("aria-busy");
  }
  if (res.status === 429) {
    return submitFailed(data.detail || "You are classifying faster than we can save. Wait a few seconds and press Done again.");
  }
  if (!res.ok) {
    const detail = data.detail || (res.status >= 500 ? "Something went wrong on our side." : "The classification was not accepted.");
    return submitFailed(`${detail} (error ${res.status})`);
  }
  if (res.status === 201) setCount(state.count + 1);
  let note = "Saved — thank you!";
  if (data.subject_retired) {
    note = "Saved — thank you! This galaxy was retired while you were looking at it (enough people had " +
           "classified it), but your classification was still saved.";
  }
  state.saving = false;
  if (data.gold && $("feedback-optin").checked) {
    await showFeedback(data.id, note);
    return;
  }
  state.nextStatus = note;
  await loadNext();
}

function submitFailed(message) {
  state.saving = false;
  render();
  setStatus(message, "error");
}

async function showFeedback(id, note) {
  state.path.push(FEEDBACK);
  render();
  setStatus(note);
  let fb;
  try {
    const res = await fetch(config.urls.feedback.replace("{id}", String(id)),
                            {headers: {Accept: "application/json"}, credentials: "same-origin"});
    fb = await res.json();
    if (!res.ok) throw new Error(fb.detail || `error ${res.status}`);
  } catch (err) {
    area.append(h("h2", {id: "task-question", tabindex: "-1", text: "Feedback"}),
                h("p", {text: `Feedback is not available right now (${err.message}).`}));
    return;
  }
  const rows = h("ul", {class: "feedback-list"});
  for (const [key, expected] of Object.entries(fb.expected ?? {})) {
    const task = tree.tasks[key];
    if (!task) continue;
    const given = fb.given?.[key];
    const same = JSON.stringify(given) === JSON.stringify(expected);
    rows.append(h("li", {class: `feedback-row ${same ? "is-match" : "is-miss"}`},
      h("span", {class: "feedback-icon", "aria-hidden": "true", text: same ? "✓" : "✗"}),
      h("span", {}, h("strong", {text: `${task.question} `}),
        h("span", {text: `Experts said: ${answerText(task, expected)}. You said: ${given === undefined ? "—" : answerText(task, given)}. `}),
        h("em", {text: same ? "Match." : "Different."}))));
  }
  area.append(
    h("h2", {id: "task-question", tabindex: "-1",
             text: fb.correct ? "Well spotted — you matched the experts!" : "How you compared with the experts"}),
    h("p", {class: "muted", text: "This galaxy was already classified by experts. Mistakes are fine: they help us learn how hard each galaxy is."}),
    rows);
  area.querySelector("h2").focus({preventScroll: true});
}

// ------------------------------------------------------------------ favourite

function setFavourite(on) {
  const btn = $("favourite");
  btn.setAttribute("aria-pressed", String(on));
  btn.setAttribute("aria-label", on ? "Remove from favourites" : "Add to favourites");
  btn.querySelector(".fav-icon").textContent = on ? "♥" : "♡";
  btn.querySelector(".fav-text").textContent = on ? "Favourited" : "Favourite";
}

$("favourite").addEventListener("click", async () => {
  if (!state.subject) return;
  try {
    const res = await fetch(config.urls.favourite.replace("{id}", String(state.subject.id)), {
      method: "POST", credentials: "same-origin",
      headers: {Accept: "application/json", "X-CSRFToken": csrfToken()},
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.detail || (res.status === 403 ? "log in to keep favourites" : `error ${res.status}`));
    setFavourite(Boolean(data.favourite));
    setStatus(data.favourite ? "Added to your favourites." : "Removed from your favourites.");
  } catch (err) {
    setStatus(`Could not change the favourite: ${err.message}.`, "error");
  }
});

// ------------------------------------------------------------------ keyboard

document.addEventListener("keydown", (e) => {
  if (document.querySelector("dialog[open]")) return;
  const target = e.target;
  const onImage = target instanceof Element && target.closest("#marks");
  const mod = e.ctrlKey || e.metaKey;
  const task = currentTask();
  if (mod && task?.type === "drawing" && !isTyping(target)) {
    const k = e.key.toLowerCase();
    if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); tool.redo(); return; }
    if (k === "z") { e.preventDefault(); tool.undo(); return; }
  }
  if (mod || e.altKey || isTyping(target)) return;
  if (e.key === " " && !(target instanceof HTMLButtonElement) && !(target instanceof HTMLAnchorElement)) {
    if (!viewer.spaceHeld) { viewer.spaceHeld = true; viewer.el.classList.add("is-pan"); }
    e.preventDefault();
    return;
  }
  if (/^[1-9]$/.test(e.key) && task?.type === "drawing" && task.tools.length > 1) {
    const t = task.tools[Number(e.key) - 1];
    if (t) { e.preventDefault(); chooseTool(t.label); }
    return;
  }
  if (/^[1-9]$/.test(e.key) && isQuestion(task) && !state.saving) {
    const answer = task.answers[Number(e.key) - 1];
    if (!answer) return;
    e.preventDefault();
    if (task.type === "single") chooseSingle(task, answer); else toggleMultiple(current(), answer.label);
    return;
  }
  if (e.key === "Enter" && !onImage && !(target instanceof HTMLButtonElement) && !(target instanceof HTMLAnchorElement)
      && !(target instanceof HTMLElement && target.closest("summary"))) {
    if (!$("next").hidden && !$("next").disabled) { e.preventDefault(); next(); }
    return;
  }
  if (e.key === "+" || e.key === "=") { viewer.zoomCentre(ZOOM_STEP); e.preventDefault(); }
  else if (e.key === "-" || e.key === "_") { viewer.zoomCentre(1 / ZOOM_STEP); e.preventDefault(); }
  else if (e.key === "0") { viewer.reset(); e.preventDefault(); }
  else if (e.key === "h" || e.key === "H") viewer.setPanMode(!viewer.panMode);
  else if (e.key === "i" || e.key === "I") $("invert").click();
});

// In pan mode the arrow keys move the image (capture phase: before the box tool sees them).
const PAN_KEYS = {ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1]};
document.addEventListener("keydown", (e) => {
  if (!viewer.panMode || !(e.key in PAN_KEYS) || isTyping(e.target) || document.querySelector("dialog[open]")) return;
  const [dx, dy] = PAN_KEYS[e.key];
  const step = e.shiftKey ? 160 : 40;
  viewer.panBy(dx * step, dy * step);
  e.preventDefault();
  e.stopPropagation();
}, {capture: true});

document.addEventListener("keyup", (e) => {
  if (e.key === " " && viewer.spaceHeld) {
    viewer.spaceHeld = false;
    viewer.el.classList.toggle("is-pan", viewer.panMode);
  }
});

// ------------------------------------------------------------------ feedback opt-in, tutorial, field guide

const optin = $("feedback-optin");
optin.checked = store.get(STORE.feedback) === "1";
optin.addEventListener("change", () => store.set(STORE.feedback, optin.checked ? "1" : "0"));

const tutorial = {
  dialog: $("tutorial"),
  steps: [...document.querySelectorAll(".tutorial-step")],
  i: 0,
  show(i) {
    this.i = Math.max(0, Math.min(this.steps.length - 1, i));
    this.steps.forEach((s, j) => { s.hidden = j !== this.i; });
    $("tutorial-progress").textContent = `${this.i + 1} of ${this.steps.length}`;
    $("tutorial-back").disabled = this.i === 0;
    $("tutorial-next").textContent = this.i === this.steps.length - 1 ? "Start classifying" : "Next";
  },
  open() {
    this.show(0);
    this.dialog.showModal();
  },
};
$("tutorial-back").addEventListener("click", () => tutorial.show(tutorial.i - 1));
$("tutorial-next").addEventListener("click", () => {
  if (tutorial.i === tutorial.steps.length - 1) tutorial.dialog.close("done"); else tutorial.show(tutorial.i + 1);
});
tutorial.dialog.addEventListener("close", () => store.set(STORE.tutorial, "1"));
$("open-tutorial").addEventListener("click", () => tutorial.open());

const guide = $("field-guide");
$("open-guide").addEventListener("click", () => guide.showModal());
guide.addEventListener("click", (e) => { if (e.target === guide) guide.close(); });  // click on the backdrop

// ------------------------------------------------------------------ start

if (config.message) state.nextStatus = config.message;
if (config.finished || !config.subject) {
  showFinished(config.message);
} else {
  showSubject(config.subject);
}
if (store.get(STORE.tutorial) !== "1" && !config.finished) tutorial.open();
