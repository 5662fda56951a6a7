// The editor's state: a tree whose tasks are a list (each with its key), so two tasks with one key can
// exist while editing and the server names the clash instead of one silently replacing the other.

// With `unpublished`, an answer whose key was made from its text keeps following the text: nobody has
// voted on it yet, so renaming the key costs nothing.
export function fromTree(tree, {unpublished = false} = {}) {
  const tasks = Object.entries(tree.tasks).map(([key, t]) => ({
    key, type: t.type, question: t.question || t.instruction || "", help: t.help || "",
    answers: (t.answers || []).map((a) => ({label: a.label, text: a.text, next: a.next ?? null,
      auto: unpublished && a.label === slug(a.text)})),
    tools: (t.tools || []).map((tool) => ({...tool})),
    next: t.next ?? null,
  }));
  return {first_task: tree.first_task, tasks};
}

export function toTree(state) {
  const tasks = state.tasks.map((t) => {
    const out = {key: t.key, type: t.type, question: t.question, help: t.help};
    if (t.type === "drawing") {
      out.tools = t.tools.map((tool) => ({label: tool.label, type: "rectangle", min: +tool.min, max: +tool.max}));
    } else {
      out.answers = t.answers.map((a) => ({label: a.label, text: a.text, next: t.type === "single" ? a.next : null}));
    }
    if (t.type !== "single") out.next = t.next;
    return out;
  });
  return {first_task: state.first_task, tasks};
}

export function slug(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40);
}

function freeKey(state) {
  const keys = new Set(state.tasks.map((t) => t.key));
  let n = state.tasks.length;
  while (keys.has(`T${n}`)) n += 1;
  return `T${n}`;
}

export function addTask(state, type) {
  const key = freeKey(state);
  const task = {key, type, question: "", help: "", answers: [], tools: [], next: null};
  if (type === "drawing") {
    task.tools.push({label: "box", type: "rectangle", min: 0, max: 10});
  } else {
    task.answers.push(newAnswer(), newAnswer());
  }
  state.tasks.push(task);
  if (state.tasks.length === 1) state.first_task = key;
  return state.tasks.length - 1;
}

export function newAnswer() {
  return {label: "", text: "", next: null, auto: true};
}

export function removeTask(state, index) {
  const [gone] = state.tasks.splice(index, 1);
  for (const t of state.tasks) {
    if (t.next === gone.key) t.next = null;
    for (const a of t.answers) if (a.next === gone.key) a.next = null;
  }
  if (state.first_task === gone.key) state.first_task = state.tasks[0]?.key ?? "";
}

export function renameTask(state, index, key) {
  const old = state.tasks[index].key;
  state.tasks[index].key = key;
  for (const t of state.tasks) {
    if (t.next === old) t.next = key;
    for (const a of t.answers) if (a.next === old) a.next = key;
  }
  if (state.first_task === old) state.first_task = key;
}

export function moveItem(list, index, by) {
  const to = index + by;
  if (to < 0 || to >= list.length) return index;
  const [item] = list.splice(index, 1);
  list.splice(to, 0, item);
  return to;
}

export function setAnswerText(answer, text) {
  answer.text = text;
  if (answer.auto) answer.label = slug(text);
}
