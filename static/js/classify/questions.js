// classify/questions.js: after Done, the researchers' extra questions about the galaxy just classified
// (issue #13's new questions that a project opened to volunteers). One row of answer buttons each: a tap
// answers, another tap changes the answer, until the next galaxy is done. The server keeps one answer per
// volunteer and question, and refuses with a sentence, which is shown as it is.
import {apiCall, h} from "./dom.js";

export class QuestionBox {
  // root: an empty element, hidden while there is nothing to ask; url: the subject's questions, "{id}" for it;
  // onChange(nUnanswered): told after every redraw.
  constructor(root, {url, onChange = () => {}}) {
    this.root = root;
    this.url = url;
    this.onChange = onChange;
    this.subjectId = null;
    this.unanswered = 0;
  }

  async show(subjectId) {
    this.subjectId = subjectId;
    this.render({questions: []});
    const {body} = await apiCall("GET", this.url.replace("{id}", String(subjectId)));
    if (body && body.subject === this.subjectId) this.render(body);  // a later Done may have moved on already
  }

  render(body, message = null) {
    const rows = body.questions.map((q) => this.row(q));
    this.message = h("p", {class: "question-message", role: "status", "aria-live": "polite"});
    if (message) { this.message.textContent = message.text; this.message.dataset.kind = message.kind; }
    this.root.replaceChildren(...(rows.length ? [h("p", {class: "question-intro", text:
      "The researchers ask one more thing about this galaxy:"}), ...rows] : []), this.message);
    this.root.hidden = !rows.length;
    this.unanswered = body.questions.filter((q) => q.mine === null).length;
    this.onChange(this.unanswered);
  }

  row(q) {
    const id = `question-${q.id}`;
    return h("div", {class: "question", role: "group", "aria-labelledby": id, "data-question": String(q.id)},
      h("p", {class: "question-text", id, text: q.text}),
      h("div", {class: "question-answers"}, ...q.answers.map((a) => h("button", {
        type: "button", class: "button button-small question-answer", "aria-pressed": String(q.mine === a),
        "data-answer": a, text: a, onclick: () => this.answer(q, a)}))));
  }

  async answer(q, answer) {
    const url = this.url.replace("{id}", String(this.subjectId));
    const {body, error} = await apiCall("POST", url, {question: q.id, answer},
                                        {limited: "Answers are limited per hour; try again later."});
    if (error) {
      this.message.textContent = error;
      this.message.dataset.kind = "error";
      return;
    }
    this.render(body, {text: `Thank you: “${answer}” saved.`, kind: "info"});
    this.root.querySelector(`[data-question="${q.id}"] [aria-pressed=true]`)?.focus();
  }
}
