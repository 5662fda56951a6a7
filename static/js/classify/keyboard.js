// classify/keyboard.js: the page's keyboard shortcuts: answers by number, Enter for Next, undo/redo,
// zoom, pan (H, held Space, arrows in pan mode) and invert. Keys pressed on the image itself go to the
// box tool first (boxtool/keyboard.js); none of these fire while a dialog is open or the user is typing.
import {$, isTyping} from "./dom.js";
import {chooseTool} from "./render.js";
import {chooseSingle, current, currentTask, isQuestion, next, toggleMultiple} from "./tree.js";
import {ZOOM_STEP} from "./viewer.js";

const PAN_KEYS = {ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1]};

const dialogOpen = () => document.querySelector("dialog[open]") !== null;
const isControl = (t) => t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement;

export function bindKeyboard(page) {
  document.addEventListener("keydown", (e) => onKeyDown(page, e));
  // In pan mode the arrow keys move the image (capture phase: before the box tool sees them).
  document.addEventListener("keydown", (e) => onPanKey(page.viewer, e), {capture: true});
  document.addEventListener("keyup", (e) => {
    const {viewer} = page;
    if (e.key === " " && viewer.spaceHeld) {
      viewer.spaceHeld = false;
      viewer.el.classList.toggle("is-pan", viewer.panMode);
    }
  });
}

// Keys pressed in the panel of the galaxy just classified (its tags and extra questions) are for it, not
// for the galaxy on screen.
const inLastSubject = (t) => t instanceof Element && t.closest("#last-subject") !== null;

function onKeyDown(page, e) {
  if (dialogOpen() || inLastSubject(e.target)) return;
  const target = e.target;
  const mod = e.ctrlKey || e.metaKey;
  const task = currentTask(page);
  if (mod && task?.type === "drawing" && !isTyping(target)) {
    const k = e.key.toLowerCase();
    if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); page.tool.redo(); return; }
    if (k === "z") { e.preventDefault(); page.tool.undo(); return; }
  }
  if (mod || e.altKey || isTyping(target)) return;
  if (e.key === " " && !isControl(target)) {
    const {viewer} = page;
    if (!viewer.spaceHeld) { viewer.spaceHeld = true; viewer.el.classList.add("is-pan"); }
    e.preventDefault();
    return;
  }
  if (/^[1-9]$/.test(e.key) && (task?.type === "drawing" || isQuestion(task))) { numberKey(page, task, e); return; }
  if (e.key === "Enter") { enterKey(page, e); return; }
  viewerKey(page.viewer, e);
}

// 1-9 pick a drawing tool (when there are several) or an answer.
function numberKey(page, task, e) {
  const i = Number(e.key) - 1;
  if (task.type === "drawing") {
    const t = task.tools.length > 1 ? task.tools[i] : null;
    if (t) { e.preventDefault(); chooseTool(page, t.label); }
    return;
  }
  const answer = task.answers[i];
  if (page.state.saving || !answer) return;
  e.preventDefault();
  if (task.type === "single") chooseSingle(page, answer); else toggleMultiple(page, current(page), answer.label);
}

// Enter means Next, except on the image (where it finishes a box), a button, a link or a <summary>.
function enterKey(page, e) {
  const target = e.target;
  const onImage = target instanceof Element && target.closest("#marks");
  if (onImage || isControl(target) || (target instanceof HTMLElement && target.closest("summary"))) return;
  if (!$("next").hidden && !$("next").disabled) { e.preventDefault(); next(page); }
}

function viewerKey(viewer, e) {
  if (e.key === "+" || e.key === "=") { viewer.zoomCentre(ZOOM_STEP); e.preventDefault(); }
  else if (e.key === "-" || e.key === "_") { viewer.zoomCentre(1 / ZOOM_STEP); e.preventDefault(); }
  else if (e.key === "0") { viewer.reset(); e.preventDefault(); }
  else if (e.key === "h" || e.key === "H") viewer.setPanMode(!viewer.panMode);
  else if (e.key === "i" || e.key === "I") $("invert").click();
}

function onPanKey(viewer, e) {
  if (!viewer.panMode || !(e.key in PAN_KEYS) || isTyping(e.target) || dialogOpen()) return;
  const [dx, dy] = PAN_KEYS[e.key];
  const step = e.shiftKey ? 160 : 40;
  viewer.panBy(dx * step, dy * step);
  e.preventDefault();
  e.stopPropagation();
}
