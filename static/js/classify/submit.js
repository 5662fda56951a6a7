// classify/submit.js: sends the finished classification (POST, idempotent by its key, so pressing Done
// again after a failure cannot store it twice), says how it went, and moves on: to feedback on a gold
// galaxy when the volunteer asked for it, else to the next galaxy. A failure keeps every answer.
import {$, csrfToken, setStatus} from "./dom.js";
import {clearDraft} from "./draft.js";
import {showFeedback} from "./feedback.js";
import {loadNext} from "./loader.js";
import {refreshNav, render} from "./render.js";
import {annotations} from "./tree.js";

function setCount(state, n) {
  state.count = n;
  $("count-number").textContent = String(n);
  $("count-word").textContent = n === 1 ? "classification" : "classifications";
}

function submitFailed(page, message) {
  page.state.saving = false;
  render(page);
  setStatus(message, "error");
}

function payload(page) {
  const {state, config} = page;
  return {
    subject: state.subject.id,
    workflow_version: config.workflow.version,
    idempotency_key: state.idempotencyKey,
    started_at: state.startedAt,
    finished_at: new Date().toISOString(),
    annotations: annotations(page),
  };
}

// The server's refusal, in words a volunteer can act on.
function refusal(res, data) {
  if (res.status === 429) {
    return data.detail || "You are classifying faster than we can save. Wait a few seconds and press Done again.";
  }
  const fallback = res.status >= 500 ? "Something went wrong on our side." : "The classification was not accepted.";
  const detail = data.detail || fallback;
  return `${detail} (error ${res.status})`;
}

export async function submit(page) {
  const {state, config, tool} = page;
  if (state.saving || !state.subject) return;
  state.saving = true;
  refreshNav(page);
  tool.setEnabled(false);
  $("task-nav").setAttribute("aria-busy", "true");
  setStatus("Saving your classification…", "busy");
  let res;
  let data = {};
  try {
    res = await fetch(config.urls.classifications, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(payload(page)),
    });
    data = await res.json().catch(() => ({}));
  } catch {
    return submitFailed(page, "Could not reach the server. Your answers are kept: " +
                              "check your connection and press Done again.");
  } finally {
    $("task-nav").removeAttribute("aria-busy");
  }
  if (!res.ok) return submitFailed(page, refusal(res, data));
  await saved(page, res, data);
}

async function saved(page, res, data) {
  const {state} = page;
  clearDraft(page);
  if (res.status === 201) setCount(state, state.count + 1);
  // The after-Done area (tags, "more like this") listens for the galaxy just saved.
  document.dispatchEvent(new CustomEvent("classify:saved", {detail: {subject: state.subject, id: data.id}}));
  let note = "Saved — thank you!";
  if (data.subject_retired) {
    note = "Saved — thank you! This galaxy was retired while you were looking at it (enough people had " +
           "classified it), but your classification was still saved.";
  }
  state.saving = false;
  if (data.gold && $("feedback-optin").checked) {
    await showFeedback(page, data.id, note);
    return;
  }
  state.nextStatus = note;
  await loadNext(page);
}
