// Builds the editor's task cards from the state. Every control has a label and an id made from its place
// in the tree (task-1-answer-0-text), so focus can be put back after a re-render and tests can find it.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") el.textContent = v; else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c);
  return el;
}

function field(id, label, control) {
  control.id = id;
  return h("label", {class: "field grow", for: id}, h("span", {text: label}), control);
}

function nextSelect(id, state, current, ownKey, label = "Then go to") {
  const select = h("select", {"data-role": "next"},
    h("option", {value: "", text: "End of the classification"}),
    state.tasks.filter((t) => t.key !== ownKey).map((t) => h("option", {value: t.key, text: `${t.key}: ${
      (t.question || "(no text yet)").slice(0, 40)}`, selected: t.key === current})));
  return field(id, label, select);
}

function button(id, text, action, extra = {}) {
  return h("button", {type: "button", class: "button button-small", id, "data-action": action, ...extra}, text);
}

function answerRow(state, task, i, a, j) {
  const p = `task-${i}-answer-${j}`;
  return h("div", {class: "row", role: "group", "aria-label": `Answer ${j + 1}`},
    field(`${p}-text`, `Answer ${j + 1}`, h("input", {type: "text", value: a.text, "data-role": "answer-text"})),
    field(`${p}-label`, "Key", h("input", {type: "text", value: a.label, "data-role": "answer-label", size: 12})),
    task.type === "single" ? nextSelect(`${p}-next`, state, a.next, task.key) : null,
    button(`${p}-up`, "↑", "answer-up", {"aria-label": `Move answer ${j + 1} up`}),
    button(`${p}-down`, "↓", "answer-down", {"aria-label": `Move answer ${j + 1} down`}),
    button(`${p}-remove`, "Remove", "answer-remove", {"aria-label": `Remove answer ${j + 1}`}));
}

function toolRow(i, tool, j) {
  const p = `task-${i}-tool-${j}`;
  return h("div", {class: "row", role: "group", "aria-label": `Rectangle tool ${j + 1}`},
    field(`${p}-label`, "Rectangle tool key", h("input", {type: "text", value: tool.label, "data-role": "tool-label"})),
    field(`${p}-min`, "Minimum marks", h("input", {type: "number", min: 0, value: tool.min, "data-role": "tool-min"})),
    field(`${p}-max`, "Maximum marks", h("input", {type: "number", min: 0, value: tool.max, "data-role": "tool-max"})));
}

function helpImages(i, subjects) {
  if (!subjects.length) return null;
  return h("div", {class: "help-images", role: "group", "aria-label": "Add a help image from the subjects"},
    subjects.slice(0, 8).map((s, k) => h("button", {type: "button", id: `task-${i}-help-image-${k}`,
      "data-action": "help-image", "data-url": s.url, "aria-label": `Add subject ${s.external_id} to the help`},
    h("img", {src: s.url, alt: ""}))));
}

function taskBody(state, task, i) {
  if (task.type === "drawing") {
    return [task.tools.map((tool, j) => toolRow(i, tool, j)),
      nextSelect(`task-${i}-next`, state, task.next, task.key, "After drawing, go to")];
  }
  return [task.answers.map((a, j) => answerRow(state, task, i, a, j)),
    button(`task-${i}-add-answer`, "Add answer", "answer-add"),
    task.type === "multiple" ? nextSelect(`task-${i}-next`, state, task.next, task.key) : null];
}

export function taskCard(state, task, i, subjects) {
  const kinds = [["single", "Question: one answer"], ["multiple", "Question: several answers"],
    ["drawing", "Drawing: rectangles"]];
  return h("fieldset", {class: "task-card", "data-index": i},
    h("legend", {text: `Task ${task.key}${state.first_task === task.key ? " (first)" : ""}`}),
    h("div", {class: "row"},
      field(`task-${i}-key`, "Task key", h("input", {type: "text", value: task.key, "data-role": "key", size: 8})),
      field(`task-${i}-type`, "Type", h("select", {"data-role": "type"},
        kinds.map(([v, t]) => h("option", {value: v, text: t, selected: v === task.type})))),
      button(`task-${i}-up`, "↑", "task-up", {"aria-label": `Move task ${task.key} up`}),
      button(`task-${i}-down`, "↓", "task-down", {"aria-label": `Move task ${task.key} down`}),
      button(`task-${i}-remove`, "Remove task", "task-remove", {class: "button button-small button-danger"})),
    field(`task-${i}-question`, task.type === "drawing" ? "Instruction" : "Question",
      h("input", {type: "text", value: task.question, "data-role": "question"})),
    field(`task-${i}-help`, "Help text (Markdown images allowed)",
      h("textarea", {rows: 2, "data-role": "help"}, task.help)),
    helpImages(i, subjects),
    taskBody(state, task, i));
}

export function renderTasks(container, state, subjects) {
  const first = document.getElementById("first-task");
  first.replaceChildren(...state.tasks.map((t) => h("option", {value: t.key, text: t.key,
    selected: t.key === state.first_task})));
  container.replaceChildren(...state.tasks.map((t, i) => taskCard(state, t, i, subjects)));
}

export function renderList(el, items, empty, classFor = () => "") {
  el.replaceChildren(...(items.length ? items.map((item) => h("li", {class: classFor(item), text: item.message ?? item}))
    : [h("li", {class: "muted", text: empty})]));
}
