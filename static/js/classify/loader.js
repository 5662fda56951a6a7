// classify/loader.js: fetches the next galaxy from the queue and shows it: a fresh attempt (new path,
// answers and idempotency key), its caption and frames. Also the two ends of the road: an image that
// will not load, and a workflow with nothing left to show.
import {$, h, setStatus} from "./dom.js";
import {clearDraft, restoreDraft} from "./draft.js";
import {setFavourite} from "./favourite.js";
import {refreshNav, render} from "./render.js";

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Bookkeeping the volunteer does not need (and should not be swayed by): where the subject came from.
const PRIVATE_METADATA = new Set(["source", "origin", "synthetic", "truth", "label", "gold"]);

function caption(subject) {
  const {name, ...rest} = subject.metadata ?? {};
  for (const k of Object.keys(rest)) if (PRIVATE_METADATA.has(k.toLowerCase())) delete rest[k];
  const extra = Object.entries(rest).filter(([, v]) => ["string", "number"].includes(typeof v)).slice(0, 4)
    .map(([k, v]) => `${k}: ${v}`);
  return [name ? `Galaxy ${name}` : `Subject ${subject.id}`, ...extra].join(" · ");
}

export async function showSubject(page, subject) {
  const {state, tree, viewer, tool} = page;
  state.subject = subject;
  state.path = [tree.first_task];
  state.answers = new Map();
  state.drawings = new Map();
  const restored = restoreDraft(page);
  state.idempotencyKey = uuid4();
  state.saving = false;
  $("classify").dataset.subject = String(subject.id);
  $("subject-caption").textContent = caption(subject);
  setFavourite(Boolean(subject.favourite));
  let failed = null;
  try {
    await viewer.load(subject.frames);
  } catch (err) {
    failed = err;
  }
  tool.setImageSize(viewer.width, viewer.height);
  state.startedAt = new Date().toISOString();
  if (restored && !state.nextStatus) state.nextStatus = "Your answers so far are back.";
  const first = state.lastStep === undefined;
  render(page);
  $("classify").classList.add("is-ready");
  if (failed) showImageError(page, failed);
  else if (!first) bringIntoView($("viewer"));
}

// After Done the next galaxy must be in full view, not where the summary's scroll position left it.
function bringIntoView(el) {
  const r = el.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) {
    document.querySelector(".viewer-panel").scrollIntoView({block: "start", behavior: "instant"});
  }
}

// Skip a galaxy the volunteer cannot judge; the server has recorded the view, so it will not come back.
export function skipSubject(page) {
  clearDraft(page);
  page.state.nextStatus = "Skipped. Here is another galaxy.";
  loadNext(page, {skip: page.state.subject?.id});
}

// Nobody can classify a galaxy they cannot see: say so and offer another one.
function showImageError(page, err) {
  page.viewer.el.classList.remove("is-loading");
  $("classify").dataset.state = "image-error";
  page.tool.setEnabled(false);
  page.area.replaceChildren(
    h("h2", {id: "task-question", tabindex: "-1", text: "This galaxy's image did not load"}),
    h("p", {text: `${err.message}. Your connection may have dropped, or the image is missing on the server.`}),
    h("button", {type: "button", class: "button button-primary", id: "skip-broken",
                 onclick: () => loadNext(page, {skip: page.state.subject?.id})},
      "Show another galaxy"));
  $("task-help").hidden = true;
  $("task-nav").hidden = true;
  setStatus("The image could not be loaded.", "error");
}

export function showFinished(page, message) {
  const {state, viewer, tool} = page;
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
  page.area.replaceChildren(
    h("h2", {id: "task-question", tabindex: "-1", text: "All done here"}),
    h("p", {class: "finished-message", text: message || "You have classified every galaxy in this workflow. Thank you!"}),
    h("p", {}, h("a", {class: "button button-primary", href: page.config.urls.stats}, "See my stats")));
  $("task-help").hidden = true;
  refreshNav(page);
  if (state.lastStep !== undefined) page.area.querySelector("h2").focus({preventScroll: true});
}

// `skip`: a subject id not to show again: the server keeps it away (a volunteer's view is recorded; a
// visitor who has not written anything yet gets it in their cookie), and the filter below is a second guard.
export async function loadNext(page, {skip = null} = {}) {
  const {state, config} = page;
  state.saving = true;
  refreshNav(page);
  setStatus("Loading the next galaxy…");
  try {
    const sep = config.urls.queue.includes("?") ? "&" : "?";
    const res = await fetch(`${config.urls.queue}${sep}n=1${skip === null ? "" : `&skip=${skip}`}`,
                            {headers: {Accept: "application/json"}, credentials: "same-origin"});
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || `the server answered ${res.status}`);
    const status = state.nextStatus;
    const subjects = (body.subjects ?? []).filter((s) => s.id !== skip);
    if (body.finished || !subjects.length) { showFinished(page, body.message); setStatus(status); return; }
    state.nextStatus = status;
    await showSubject(page, subjects[0]);
  } catch (err) {
    state.saving = false;
    refreshNav(page);
    setStatus(`Could not load the next galaxy: ${err.message}. Press Next to try again.`, "error");
  }
}
