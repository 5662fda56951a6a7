// classify/last.js: after Done, the galaxy just classified: its tags (tags.js), the researchers' extra
// questions about it (questions.js) and links to follow it further. On a desktop the panel sits in the
// questions' column. On a phone it would be below the fold, under the next galaxy, so there it is a sheet
// over the lower screen: the action bar's thumbnail button opens it, and Close, Escape or the button again
// close it (focus goes back to the button). The next Done shows the new galaxy with the sheet closed.
import {$} from "./dom.js";
import {QuestionBox} from "./questions.js";
import {TagBox} from "./tags.js";

const PHONE = matchMedia("(max-width: 900px)");

export function bindLastSubject(page) {
  const panel = $("last-subject");
  const opener = $("last-subject-open");
  if (!panel || !opener) return;
  const view = {shown: false, open: false};
  const tags = new TagBox($("last-subject-tags"), {urls: page.config.urls.tags,
                                                    suggestions: page.config.tag_suggestions ?? []});
  const questions = new QuestionBox($("last-subject-questions"), {url: page.config.urls.questions,
                                                                  onChange: (n) => labelOpener(opener, n)});
  const layout = () => {
    const sheet = PHONE.matches && view.open;
    panel.hidden = !view.shown || (PHONE.matches && !view.open);
    panel.classList.toggle("is-sheet", sheet);
    opener.hidden = !view.shown;
    opener.setAttribute("aria-expanded", String(!panel.hidden));
  };
  const open = () => {
    view.open = true;
    layout();
    if (!PHONE.matches) panel.scrollIntoView({block: "nearest"});
    const first = panel.querySelector(".question-answer[aria-pressed=false]") ?? panel.querySelector(".tag-input");
    first?.focus({preventScroll: PHONE.matches});
  };
  const close = () => {
    view.open = false;
    layout();
    opener.focus();
  };
  opener.addEventListener("click", () => (PHONE.matches && view.open ? close() : open()));
  $("last-subject-close").addEventListener("click", close);
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && PHONE.matches && view.open) { e.preventDefault(); close(); }
  });
  PHONE.addEventListener("change", layout);
  document.addEventListener("classify:saved", (e) => {
    const subject = e.detail.subject;
    const url = subject.frames?.[0]?.url ?? "";
    Object.assign(view, {shown: true, open: false});
    $("last-subject-thumb").src = url;
    $("last-subject-thumb").alt = `The galaxy you just classified (${subject.id})`;
    $("last-subject-open-thumb").src = url;
    $("last-subject-page").href = page.config.urls.tags.subject_page.replace("{id}", String(subject.id));
    layout();
    tags.show(subject.id);
    questions.show(subject.id);
  });
}

// The button's name says what waits behind it; a dot (not colour alone: it is also in the name) marks questions.
function labelOpener(opener, unanswered) {
  $("last-subject-open-dot").hidden = unanswered === 0;
  const more = unanswered ? `, and answer ${unanswered} question${unanswered === 1 ? "" : "s"} about it` : "";
  opener.setAttribute("aria-label", `Tag the galaxy you just classified${more}`);
}
