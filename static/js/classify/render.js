// classify/render.js: draws the task area for the current step (a question, a drawing task or the
// summary), the task help and the Back/Next buttons, and moves focus so screen readers follow along.
// Answers change only through tree.js's moves; this file keeps just the bookkeeping of what it last drew.
import {$, h, setStatus} from "./dom.js";
import {saveDraft} from "./draft.js";
import {renderExamples} from "./help.js";
import {markList, refreshMarkList} from "./marklist.js";
import {FEEDBACK, SUMMARY, answerText, cantTell, cantTellAnswer, chooseSingle, current, currentTask, goBack,
        isQuestion, next, revisit, saveDrawing, stepLabel, toggleMultiple} from "./tree.js";

export function render(page) {
  const {tree, state, tool, area} = page;
  const focusLabel = document.activeElement?.dataset?.label;
  const key = current(page);
  const task = currentTask(page);
  $("classify").dataset.state = key === SUMMARY ? "summary" : key === FEEDBACK ? "feedback" : "task";
  area.replaceChildren();
  setStatus(state.nextStatus);
  state.nextStatus = "";
  const drawingOnPath = state.path.some((k) => tree.tasks[k]?.type === "drawing");
  if (task?.type === "drawing") {
    tool.setTools(task.tools);
    if (state.drawings.has(key)) tool.loadState(state.drawings.get(key));  // with its undo history
    else tool.setMarks(state.answers.get(key) ?? []);
  } else {
    tool.select(null);
  }
  tool.setEnabled(task?.type === "drawing" && !state.saving);
  tool.setVisible(drawingOnPath);
  $("viewer").classList.toggle("is-drawing", task?.type === "drawing");

  if (key === SUMMARY) renderSummary(page);
  else if (key === FEEDBACK) { /* filled by feedback.js */ }
  else if (isQuestion(task)) renderQuestion(page, key, task);
  else if (task) renderDrawing(page, task);

  renderHelp(task, renderExamples(page, key));
  refreshNav(page);
  moveFocus(page, key, task, focusLabel);
}

// Move focus to the new question (so screen readers announce it), but not when the step stays the same.
function moveFocus(page, key, task, focusLabel) {
  const {state, area, viewer} = page;
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

function heading(text) {
  return h("h2", {id: "task-question", tabindex: "-1", text});
}

function renderQuestion(page, key, task) {
  const chosen = page.state.answers.get(key);
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
      onclick: () => (multiple ? toggleMultiple(page, key, answer.label) : chooseSingle(page, answer)),
    },
    hotkey ? h("kbd", {class: "answer-key", "aria-hidden": "true", text: hotkey}) : null,
    h("span", {class: "answer-text", text: answer.text}),
    h("span", {class: "answer-mark", "aria-hidden": "true", text: selected ? "✓" : ""}));
    list.append(button);
  });
  page.area.append(h("p", {class: "step", text: stepLabel(page)}), heading(task.question));
  if (multiple) page.area.append(h("p", {class: "muted hint", text: "Choose all that apply, then Next."}));
  page.area.append(list);
}

export function chooseTool(page, label) {
  page.tool.setActiveTool(label);
  for (const b of page.area.querySelectorAll(".tool-choice")) {
    b.setAttribute("aria-pressed", String(b.dataset.tool === label));
  }
  setStatus(`Drawing ${label} boxes.`);
}

function toolRow(page, t, i, counts, several) {
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
    ? h("button", {type: "button", class: "tool-choice", "data-tool": t.label,
                   "aria-keyshortcuts": i < 9 ? String(i + 1) : null, "aria-pressed": String(t.label === page.tool.activeTool),
                   onclick: () => chooseTool(page, t.label)}, ...parts)
    : h("span", {}, ...parts);
  return h("li", {class: "tool-count", "data-tool": t.label}, row);
}

function renderDrawing(page, task) {
  const {tool} = page;
  const counts = tool.counts();
  const toolList = h("ul", {class: "tool-list"},
    ...task.tools.map((t, i) => toolRow(page, t, i, counts, task.tools.length > 1)));
  const editRow = h("div", {class: "edit-row"},
    h("button", {type: "button", class: "button button-small", id: "undo", "aria-keyshortcuts": "Control+Z",
                 onclick: () => tool.undo()}, "↶ Undo"),
    h("button", {type: "button", class: "button button-small", id: "redo", "aria-keyshortcuts": "Control+Shift+Z",
                 onclick: () => tool.redo()}, "↷ Redo"),
    h("button", {type: "button", class: "button button-small button-danger", id: "delete-box",
                 onclick: () => tool.deleteSelected()}, "Delete box"));
  page.area.append(
    h("p", {class: "step", text: stepLabel(page)}),
    heading(task.question),
    h("p", {class: "muted hint",
            text: "Drag on the image to draw a box, even inside another one. Tap a box to select it; drag the selected box to move it, or its handles to resize it."}),
    toolList,
    editRow,
    markList(),
  );
}

function renderSummary(page) {
  const {tree, state} = page;
  const list = h("dl", {class: "summary"});
  for (const key of state.path) {
    const task = tree.tasks[key];
    if (!task) continue;
    list.append(h("div", {class: "summary-row"},
      h("dt", {text: task.question}),
      h("dd", {}, h("span", {class: "summary-answer", text: answerText(task, state.answers.get(key))}),
        h("button", {type: "button", class: "link-button change", "aria-label": `Change answer to: ${task.question}`,
                     onclick: () => revisit(page, key)}, "Change"))));
  }
  page.area.append(
    heading("Check your answers"),
    list,
    h("p", {class: "muted hint", text: "Press Done to save your classification."}),
  );
}

function renderHelp(task, nExamples) {
  const text = $("help-text");
  $("task-help").hidden = !task?.help && !nExamples;
  text.textContent = task?.help ?? "";
  text.hidden = true;
  $("help-examples").hidden = true;
  $("help-toggle").setAttribute("aria-expanded", "false");
}

// Back/Next reflect the step and whether a save is under way; on a drawing task also the box counts,
// undo/redo and whether the boxes meet the workflow's minimums. The box tool calls this on every change.
export function refreshNav(page) {
  const {state} = page;
  $("task-nav").hidden = false;
  const key = current(page);
  const task = currentTask(page);
  const back = $("back");
  const nextBtn = $("next");
  back.hidden = key === FEEDBACK || state.path.length < 2;
  back.disabled = state.saving;
  refreshSkip(page, task);
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
    nextBtn.textContent = "Next →";
    refreshDrawingNav(page, nextBtn);
  } else if (task) {
    nextBtn.textContent = "Next →";
  } else {
    nextBtn.hidden = true;
    back.hidden = true;
  }
  if (!state.saving) {
    saveDrawing(page);
    saveDraft(page);
  }
}

// "Can't tell" answers with the tree's can't-tell answer where the question has one, else skips the galaxy.
function refreshSkip({state}, task) {
  const skip = $("skip");
  skip.hidden = !task || !state.subject;
  skip.disabled = state.saving;
  const answer = cantTellAnswer(task);
  skip.textContent = answer ? "Can't tell" : "Skip";
  skip.title = answer ? `Answer "${answer.text}"` : "Can't judge this one? Show another galaxy";
}

function refreshDrawingNav({state, tool, area}, nextBtn) {
  const problems = tool.problems();
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
  const list = $("mark-list");
  if (list) refreshMarkList(tool, list);
}

export function bindNav(page) {
  $("back").addEventListener("click", () => goBack(page));
  $("next").addEventListener("click", () => next(page));
  $("skip").addEventListener("click", () => cantTell(page));
  $("help-toggle").addEventListener("click", () => {
    const text = $("help-text");
    text.hidden = !text.hidden;
    $("help-examples").hidden = text.hidden || !$("help-examples").childElementCount;
    $("help-toggle").setAttribute("aria-expanded", String(!text.hidden));
  });
}
