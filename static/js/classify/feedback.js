// classify/feedback.js: after a volunteer classifies a gold-standard galaxy (and opted in), shows how
// their answers compare with the experts'. Also remembers the opt-in checkbox between visits.
import {$, STORE, h, setStatus, store} from "./dom.js";
import {render} from "./render.js";
import {FEEDBACK, answerText} from "./tree.js";

function feedbackRow(task, expected, given) {
  const same = JSON.stringify(given) === JSON.stringify(expected);
  return h("li", {class: `feedback-row ${same ? "is-match" : "is-miss"}`},
    h("span", {class: "feedback-icon", "aria-hidden": "true", text: same ? "✓" : "✗"}),
    h("span", {}, h("strong", {text: `${task.question} `}),
      h("span", {text: `Experts said: ${answerText(task, expected)}. ` +
                       `You said: ${given === undefined ? "—" : answerText(task, given)}. `}),
      h("em", {text: same ? "Match." : "Different."})));
}

export async function showFeedback(page, id, note) {
  const {state, tree, config, area} = page;
  state.path.push(FEEDBACK);
  render(page);
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
    if (task) rows.append(feedbackRow(task, expected, fb.given?.[key]));
  }
  area.append(
    h("h2", {id: "task-question", tabindex: "-1",
             text: fb.correct ? "Well spotted — you matched the experts!" : "How you compared with the experts"}),
    h("p", {class: "muted", text: "This galaxy was already classified by experts. " +
                                   "Mistakes are fine: they help us learn how hard each galaxy is."}),
    rows);
  area.querySelector("h2").focus({preventScroll: true});
}

export function bindFeedbackOptin() {
  const optin = $("feedback-optin");
  optin.checked = store.get(STORE.feedback) === "1";
  optin.addEventListener("change", () => store.set(STORE.feedback, optin.checked ? "1" : "0"));
}
