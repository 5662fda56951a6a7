// The task-tree editor: edits the state in place, asks the server to check it (the one set of rules), saves
// a valid tree as the draft, and drives publishing and the life cycle through the builder API.
import {call} from "./api.js";
import {addTask, fromTree, moveItem, newAnswer, removeTask, renameTask, setAnswerText, toTree} from "./model.js";
import {renderList, renderTasks} from "./render.js";

const config = JSON.parse(document.getElementById("builder-config").textContent);
const $ = (id) => document.getElementById(id);
const ed = {state: fromTree(config.tree, {unpublished: !config.workflow.version}), timer: null, saved: true, seq: 0};
const tasksEl = $("tasks");

function say(text, kind = "") {
  const el = $("editor-status");
  el.textContent = text;
  el.dataset.kind = kind;
}

function redraw(focusId) {
  renderTasks(tasksEl, ed.state, config.subjects);
  const el = focusId && document.getElementById(focusId);
  if (el) el.focus();
}

function changed() {
  ed.saved = false;
  say("Checking…");
  clearTimeout(ed.timer);
  ed.timer = setTimeout(checkAndSave, 350);
}

async function checkAndSave() {
  const seq = ++ed.seq;
  const tree = toTree(ed.state);
  const checked = await call(config.urls.validate, {method: "POST", body: {tree}});
  if (seq !== ed.seq) return;  // a newer edit is being checked
  const problems = checked.ok ? checked.data.problems : [checked.data.detail || "The check failed."];
  renderList($("problems"), problems, "No problems: the tree can be previewed and published.");
  if (problems.length) { say(`${problems.length} problem${problems.length > 1 ? "s" : ""} to fix before saving.`, "error"); return; }
  const stored = await call(config.urls.draft, {method: "PUT", body: {tree}});
  if (seq !== ed.seq) return;
  ed.saved = stored.ok;
  say(stored.ok ? "Draft saved." : stored.data.detail, stored.ok ? "ok" : "error");
  if (stored.ok) await showDiff();
}

async function flush() {
  clearTimeout(ed.timer);
  if (!ed.saved) await checkAndSave();
  return ed.saved;
}

function where(el) {
  const card = el.closest(".task-card");
  const m = /answer-(\d+)|tool-(\d+)/.exec(el.id || "");
  return {i: card ? +card.dataset.index : -1, j: m ? +(m[1] ?? m[2]) : -1};
}

function onInput(event) {
  const el = event.target;
  const {i, j} = where(el);
  const task = ed.state.tasks[i];
  if (!task) return;
  const role = el.dataset.role;
  if (role === "question" || role === "help") task[role] = el.value;
  else if (role === "answer-text") { setAnswerText(task.answers[j], el.value); $(`task-${i}-answer-${j}-label`).value = task.answers[j].label; }
  else if (role === "answer-label") { task.answers[j].label = el.value; task.answers[j].auto = false; }
  else if (role === "tool-label") task.tools[j].label = el.value;
  else if (role === "tool-min" || role === "tool-max") task.tools[j][role.slice(5)] = el.value === "" ? 0 : +el.value;
  else return;
  changed();
}

function onChange(event) {
  const el = event.target;
  const {i, j} = where(el);
  const task = ed.state.tasks[i];
  const role = el.dataset.role;
  if (role === "key") renameTask(ed.state, i, el.value.trim());
  else if (role === "type") setType(task, el.value);
  else if (role === "next" && j >= 0) task.answers[j].next = el.value || null;
  else if (role === "next") task.next = el.value || null;
  else return;
  redraw(el.id);
  changed();
}

function setType(task, type) {
  task.type = type;
  if (type === "drawing" && !task.tools.length) task.tools.push({label: "box", type: "rectangle", min: 0, max: 10});
  if (type !== "drawing") while (task.answers.length < 2) task.answers.push(newAnswer());
}

const ACTIONS = {
  "answer-add": (t, i) => { t.answers.push(newAnswer()); return `task-${i}-answer-${t.answers.length - 1}-text`; },
  "answer-remove": (t, i, j) => { t.answers.splice(j, 1); return `task-${i}-add-answer`; },
  "answer-up": (t, i, j) => `task-${i}-answer-${moveItem(t.answers, j, -1)}-up`,
  "answer-down": (t, i, j) => `task-${i}-answer-${moveItem(t.answers, j, 1)}-down`,
  "task-up": (t, i) => `task-${moveItem(ed.state.tasks, i, -1)}-up`,
  "task-down": (t, i) => `task-${moveItem(ed.state.tasks, i, 1)}-down`,
  "task-remove": (t, i) => { removeTask(ed.state, i); return "add-question"; },
  "help-image": (t, i, j, el) => { t.help = `${t.help}${t.help ? "\n" : ""}![](${el.dataset.url})`; return `task-${i}-help`; },
};

function onClick(event) {
  const el = event.target.closest("[data-action]");
  if (!el) return;
  const {i} = where(el);
  const m = /answer-(\d+)/.exec(el.id);
  const focus = ACTIONS[el.dataset.action](ed.state.tasks[i], i, m ? +m[1] : -1, el);
  redraw(focus);
  changed();
}

function addAndFocus(type) {
  const i = addTask(ed.state, type);
  redraw(`task-${i}-question`);
  changed();
}

async function showDiff() {
  const got = await call(config.urls.diff);
  if (!got.ok) return;
  const items = got.data.changes.map((c) => ({...c, message: `${c.breaking ? "Breaking: " : ""}${c.message}`}));
  renderList($("changes"), items, got.data.version ? "No changes from the published version."
    : "Not published yet: publishing makes version 1.", (c) => (c.breaking ? "change-breaking" : ""));
}

async function publish(confirm) {
  if (!(await flush())) { say("Fix the problems before publishing.", "error"); return; }
  const got = await call(config.urls.publish, {method: "POST", body: {confirm}});
  $("publish-confirm").hidden = got.status !== 409;
  $("publish-message").textContent = got.ok ? `Published version ${got.data.version}.` : got.data.detail;
  if (got.ok) { config.workflow.version = got.data.version; showStatus(config.workflow.status); await showDiff(); }
  if (got.status === 409) $("publish-confirm").focus();
}

function showStatus(status) {
  config.workflow.status = status;
  $("workflow-status").textContent = status;
  $("workflow-version").textContent = config.workflow.version ? `version ${config.workflow.version}` : "not published";
  for (const b of document.querySelectorAll("[data-status]")) b.hidden = !b.dataset.from.split(" ").includes(status);
}

async function setStatus(event) {
  const got = await call(config.urls.status, {method: "POST", body: {status: event.currentTarget.dataset.status}});
  $("status-message").textContent = got.ok ? `The workflow is now ${got.data.status}.` : got.data.detail;
  if (got.ok) showStatus(got.data.status);
}

async function importTree(event) {
  event.preventDefault();
  const got = await call(config.urls.import, {method: "POST", body: new FormData(event.currentTarget)});
  $("import-message").textContent = got.ok ? `Imported ${got.data.n_tasks} tasks into the draft.` : got.data.detail;
  if (!got.ok) return;
  ed.state = fromTree(got.data.tree, {unpublished: !config.workflow.version});
  redraw("first-task");
  renderList($("problems"), [], "No problems: the tree can be previewed and published.");
  ed.saved = true;
  await showDiff();
}

tasksEl.addEventListener("input", onInput);
tasksEl.addEventListener("change", onChange);
tasksEl.addEventListener("click", onClick);
$("first-task").addEventListener("change", (e) => { ed.state.first_task = e.target.value; redraw("first-task"); changed(); });
$("add-question").addEventListener("click", () => addAndFocus("single"));
$("add-drawing").addEventListener("click", () => addAndFocus("drawing"));
$("publish").addEventListener("click", () => publish(false));
$("publish-confirm").addEventListener("click", () => publish(true));
$("preview").addEventListener("click", async (e) => { if (!ed.saved) { e.preventDefault(); if (await flush()) location.assign(e.currentTarget.href); } });
for (const b of document.querySelectorAll("[data-status]")) b.addEventListener("click", setStatus);
$("import-form").addEventListener("submit", importTree);
redraw();
showStatus(config.workflow.status);
showDiff();
