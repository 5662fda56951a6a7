// classify/tree.js: where the volunteer is in the workflow's task tree and what they answered so far:
// the per-subject state, the annotations it becomes, and the moves through the tree (answer, back, Next).
//
// A move ends by redrawing, and Next on the last step submits or loads the next galaxy. Those live in
// render.js, submit.js and loader.js, which import this file, so the moves reach them through the three
// hooks main.js puts on the page (page.render, page.submit, page.loadNext, page.skipSubject) instead of an
// import cycle.
import {setStatus} from "./dom.js";

export const SUMMARY = "__summary__";
export const FEEDBACK = "__feedback__";

export function createState(config) {
  return {
    subject: null,
    path: [],              // task keys visited, the current one last (or SUMMARY / FEEDBACK)
    answers: new Map(),    // task key -> value
    drawings: new Map(),   // drawing task key -> the box tool's state (marks with their undo history)
    idempotencyKey: null,
    startedAt: null,
    saving: false,
    count: Number(config.user.n_classifications) || 0,
    nextStatus: "",
    lastStep: undefined,   // "<path length>:<key>" of the last render; undefined before the first
  };
}

export const current = ({state}) => state.path[state.path.length - 1];
export const currentTask = (page) => page.tree.tasks[current(page)] ?? null;
export const isQuestion = (task) => task && (task.type === "single" || task.type === "multiple");

export function annotations({tree, state}) {
  const out = [];
  for (const key of state.path) {
    const task = tree.tasks[key];
    if (!task) continue;
    if (task.type === "drawing") out.push({task: key, value: state.answers.get(key) ?? []});
    else out.push({task: key, value: state.answers.get(key)});
  }
  return out;
}

export function stepLabel({tree, state}) {
  const n = state.path.filter((k) => tree.tasks[k]).length;
  return `Step ${n}`;
}

export function answerText(task, value) {
  if (task.type === "single") return task.answers.find((a) => a.label === value)?.text ?? value;
  if (task.type === "multiple") {
    const texts = (value ?? []).map((v) => task.answers.find((a) => a.label === v)?.text ?? v);
    return texts.length ? texts.join(", ") : "None";
  }
  const n = (value ?? []).length;
  return n === 0 ? "No boxes drawn" : `${n} box${n === 1 ? "" : "es"} drawn`;
}

// Leaving a drawing task keeps its boxes as the answer and the tool's undo history beside it.
export function saveDrawing(page) {
  if (currentTask(page)?.type !== "drawing") return;
  page.state.answers.set(current(page), page.tool.marks);
  page.state.drawings.set(current(page), page.tool.state);
}

// A question's own "can't tell" answer, found by its label or its text with case, spaces and
// punctuation ignored (a builder's "Don't know" and an imported tree's "can_t_tell" alike), so that the
// engine counts it as a vote. A question without one has no "Can't tell": the button skips the galaxy.
const CANT_TELL = new Set(["canttell", "cannottell", "cantsay", "dontknow", "donotknow", "notsure", "unsure",
                           "unknown"]);
const squash = (text) => String(text ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");

export const cantTellAnswer = (task) => (task?.type === "single"
  ? task.answers.find((a) => CANT_TELL.has(squash(a.label)) || CANT_TELL.has(squash(a.text))) ?? null : null);

// "Can't tell": the tree's can't-tell answer where the question has one; otherwise the galaxy is
// skipped without a classification (the server has recorded the view, so it is not served again).
export function cantTell(page) {
  if (page.state.saving) return;
  const answer = cantTellAnswer(currentTask(page));
  if (answer) { chooseSingle(page, answer); return; }
  page.skipSubject();
}

function goTo(page, key) {
  saveDrawing(page);
  page.state.path.push(key ?? SUMMARY);
  page.render();
}

export function goBack(page) {
  if (page.state.path.length < 2 || page.state.saving) return;
  saveDrawing(page);
  page.state.path.pop();
  page.render();
}

// Jump back to a task from the summary; everything after it is asked again.
export function revisit(page, key) {
  saveDrawing(page);
  const i = page.state.path.indexOf(key);
  if (i >= 0) page.state.path = page.state.path.slice(0, i + 1);
  page.render();
}

export function chooseSingle(page, answer) {
  page.state.answers.set(current(page), answer.label);
  goTo(page, answer.next);
}

export function toggleMultiple(page, key, label) {
  const chosen = new Set(page.state.answers.get(key) ?? []);
  if (chosen.has(label)) chosen.delete(label); else chosen.add(label);
  const order = page.tree.tasks[key].answers.map((a) => a.label);
  page.state.answers.set(key, order.filter((l) => chosen.has(l)));
  page.render();
}

export function next(page) {
  const {state, tool} = page;
  if (state.saving) return;
  const key = current(page);
  const task = currentTask(page);
  if (key === SUMMARY) { page.submit(); return; }
  if (key === FEEDBACK) { page.loadNext(); return; }
  if (!task) return;
  if (task.type === "single") {
    const label = state.answers.get(key);
    const answer = task.answers.find((a) => a.label === label);
    if (answer) chooseSingle(page, answer); else setStatus("Pick an answer first.", "warn");
    return;
  }
  if (task.type === "multiple") {
    if (!state.answers.has(key)) state.answers.set(key, []);
    goTo(page, task.next);
    return;
  }
  const problems = tool.problems();
  if (problems.length) { setStatus(problems.join(" "), "warn"); return; }
  goTo(page, task.next);
}
