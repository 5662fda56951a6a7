// classify/marklist.js: the list of drawn boxes beside a drawing task, as annotation tools have
// (Label Studio's regions list): select a box, hide it to see what is underneath, or delete it.
// Hidden boxes are only out of view: they are still kept and submitted.
import {h} from "./dom.js";

export function markList() {
  return h("ol", {class: "mark-list", id: "mark-list", "aria-label": "Your boxes"});
}

function row(tool, mark) {
  const name = `Box ${mark.index + 1}${tool.tools.length > 1 ? ` (${mark.tool})` : ""}`;
  return h("li", {class: `mark-row${mark.selected ? " is-selected" : ""}${mark.hidden ? " is-hidden" : ""}`,
                  "data-id": String(mark.id)},
    h("button", {type: "button", class: "link-button mark-select", "aria-pressed": String(mark.selected),
                 onclick: () => tool.select(mark.selected ? null : mark.id)}, name),
    h("button", {type: "button", class: "button button-small mark-hide", "aria-pressed": String(mark.hidden),
                 "aria-label": `${mark.hidden ? "Show" : "Hide"} ${name}`,
                 onclick: () => tool.toggleHidden(mark.id)}, mark.hidden ? "Show" : "Hide"),
    h("button", {type: "button", class: "button button-small button-danger mark-delete",
                 "aria-label": `Delete ${name}`, onclick: () => tool.deleteMark(mark.id)}, "Delete"));
}

// Redraws the list from the tool (called on every change), keeping focus on the same control.
export function refreshMarkList(tool, list) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const again = focused && {id: focused.closest("li")?.dataset.id, cls: focused.classList[focused.classList.length - 1]};
  const marks = tool.list();
  list.replaceChildren(...marks.map((m) => row(tool, m)));
  list.hidden = marks.length === 0;
  if (again) list.querySelector(`li[data-id="${again.id}"] .${again.cls}`)?.focus({preventScroll: true});
}
