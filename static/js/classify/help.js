// classify/help.js: pictures in the per-question help: for each answer of the question on screen, galaxies
// of this project that volunteers agreed on (config.examples, from the server's retired galaxies).
import {$, h} from "./dom.js";

// Fill the help's example list for the question `key`; returns how many pictures it shows (0: none).
export function renderExamples(page, key) {
  const list = $("help-examples");
  const question = (page.config.examples ?? []).find((q) => q.key === key);
  const items = (question?.answers ?? []).flatMap((a) => a.examples.slice(0, 1).map((e) =>
    h("li", {}, h("img", {src: e.url, alt: `A galaxy volunteers answered "${a.text}"`, width: "80", height: "80",
                          loading: "lazy"}),
      h("span", {text: a.text}))));
  list.replaceChildren(...items);
  return items.length;
}
