// research/anomaly.js: the anomaly loop. The researcher marks each galaxy the ranker asks about as
// interesting or not; the server refits the ranking (a Gaussian process on their labels) and answers
// with the next galaxies to judge and the new top of the list, which replace the old ones.
import {$, csrfToken, h} from "../classify/dom.js";

const config = JSON.parse($("anomaly-config").textContent);
let busy = false;

function say(text, kind = "info") {
  const message = $("anomaly-message");
  message.textContent = text;
  message.dataset.kind = kind;
}

function thumb(item) {
  return h("a", {href: config.urls.similar.replace("{id}", String(item.id)), title: "More like this"},
    h("img", {src: item.frames[0]?.url ?? "", alt: `Galaxy ${item.external_id}`, loading: "lazy",
              width: "130", height: "130"}),
    h("span", {text: item.external_id}),
    h("span", {class: "meta", text: item.label === null
      ? `interest ${item.interest.toFixed(2)} ± ${item.uncertainty.toFixed(2)}`
      : (item.label ? "you: interesting" : "you: not interesting")}));
}

function judgeItem(item) {
  const button = (text, value, primary) => h("button", {type: "button", class: `button${primary ? " button-primary" : ""}`,
    text, "aria-label": `${text}: galaxy ${item.external_id}`, onclick: () => judge(item, value)});
  return h("li", {"data-subject": String(item.id)}, thumb(item),
    h("div", {class: "judge-buttons"}, button("Interesting", true, true), button("Not", false, false)));
}

function topItem(item) {
  const kind = item.label === null ? "" : (item.label ? "is-interesting" : "is-boring");
  return h("li", {class: kind, "data-subject": String(item.id)}, thumb(item));
}

function render(ranking) {
  $("to-label").replaceChildren(...ranking.to_label.map(judgeItem));
  $("top-list").replaceChildren(...ranking.top.map(topItem));
  $("anomaly-count").textContent = String(ranking.n_labels);
  if (!ranking.to_label.length) say("You have judged every galaxy of this workflow.");
}

async function judge(item, interesting) {
  if (busy) return;
  busy = true;
  say(`Saving and updating the ranking…`);
  try {
    const res = await fetch(config.urls.labels, {method: "POST", credentials: "same-origin",
      headers: {Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify({subject: item.id, interesting})});
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { say(body.detail || `The server answered ${res.status}.`, "error"); return; }
    render(body);
    say(`Marked ${item.external_id} ${interesting ? "interesting" : "not interesting"}; the ranking is updated.`);
  } catch {
    say("Could not reach the server; check your connection and try again.", "error");
  } finally {
    busy = false;
  }
}

if (config.ranking) render(config.ranking);
