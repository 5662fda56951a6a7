// classify/draft.js: the answers given so far, kept in localStorage per workflow and subject, so a
// reload (or a phone that drops the tab) brings back the same galaxy with the same answers and boxes.
// A submitted or skipped galaxy clears its draft; only one draft per workflow is ever kept.
import {store} from "./dom.js";
import {FEEDBACK, SUMMARY} from "./tree.js";

const PREFIX = "zooloop.draft.v1";

const keyFor = (workflowId, subjectId) => `${PREFIX}.${workflowId}.${subjectId}`;

function dropOthers(workflowId, keep) {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (k?.startsWith(`${PREFIX}.${workflowId}.`) && k !== keep) localStorage.removeItem(k);
    }
  } catch { /* private mode: nothing was stored */ }
}

export function saveDraft({config, state}) {
  if (!state.subject || state.path.includes(FEEDBACK)) return;
  const key = keyFor(config.workflow.id, state.subject.id);
  dropOthers(config.workflow.id, key);
  store.set(key, JSON.stringify({version: config.workflow.version, path: state.path,
                                 answers: [...state.answers], drawings: [...state.drawings]}));
}

export function clearDraft({config, state}) {
  if (state.subject) store.remove(keyFor(config.workflow.id, state.subject.id));
}

// Restores a draft made with this tree version whose path still walks the tree; else leaves a fresh start.
export function restoreDraft({config, tree, state}) {
  let draft;
  try {
    draft = JSON.parse(store.get(keyFor(config.workflow.id, state.subject.id)) ?? "null");
  } catch {
    return false;
  }
  if (!draft || draft.version !== config.workflow.version || !Array.isArray(draft.path)) return false;
  const known = draft.path.every((k) => k in tree.tasks || k === SUMMARY);
  if (!known || draft.path[0] !== tree.first_task) return false;
  state.path = draft.path;
  state.answers = new Map(draft.answers);
  state.drawings = new Map(draft.drawings);
  return true;
}
