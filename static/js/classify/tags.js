// classify/tags.js: a galaxy's hashtags, as Zooniverse Talk's: the list (each a link to the tag search,
// with a remove button on the volunteer's own) and a box to add some. Used after Done on the classify
// page (for the galaxy just classified, see last.js) and on a galaxy's own page. The server validates
// and answers every refusal with a sentence, which is shown as it is.
import {apiCall, h} from "./dom.js";

export class TagBox {
  // root: an empty element; urls: {subject_tags, tag, search} with "{id}"; canTag: show the add box.
  constructor(root, {urls, canTag = true, suggestions = []}) {
    this.root = root;
    this.urls = urls;
    this.canTag = canTag;
    this.subjectId = null;
    this.list = h("ul", {class: "tag-list", "aria-label": "Tags on this galaxy"});
    this.message = h("p", {class: "tag-message", role: "status", "aria-live": "polite"});
    this.form = canTag ? this.buildForm(suggestions) : null;
    root.replaceChildren(this.list, ...(this.form ? [this.form] : []), this.message);
  }

  buildForm(suggestions) {
    const id = `tag-input-${Math.random().toString(36).slice(2, 8)}`;
    this.input = h("input", {id, name: "tags", type: "text", class: "tag-input", maxlength: "400",
                             autocomplete: "off", autocapitalize: "none", spellcheck: "false",
                             enterkeyhint: "done", placeholder: "#ring #dust-lane", list: `${id}-list`});
    const datalist = h("datalist", {id: `${id}-list`}, ...suggestions.map((s) => h("option", {value: `#${s}`})));
    const form = h("form", {class: "tag-form", novalidate: true},
      h("label", {for: id, class: "tag-label", text: "Add tags"}),
      h("div", {class: "tag-row"}, this.input, datalist,
        h("button", {type: "submit", class: "button button-small", text: "Add"})),
      h("p", {class: "tag-hint muted", text: "Words of 2–30 letters, digits, - or _, like #tidal-tail. " +
                                             "Separate tags with spaces."}));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.add(this.input.value); });
    return form;
  }

  url(kind, id) { return this.urls[kind].replace("{id}", String(id)); }

  say(text, kind = "info") {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  async show(subjectId) {
    this.subjectId = subjectId;
    if (this.input) this.input.value = "";
    this.say("");
    const body = await this.call("GET", this.url("subject_tags", subjectId));
    if (body) this.render(body);
  }

  render(body) {
    const search = (name) => `${this.urls.search}?tag=${encodeURIComponent(name)}`;
    const items = body.tags.map((t) => h("li", {class: `tag${t.count === 0 ? " is-hidden" : ""}`},
      h("a", {href: search(t.name), class: "tag-name", text: `#${t.name}`}),
      t.count > 1 ? h("span", {class: "tag-count", "aria-label": `${t.count} volunteers`, text: String(t.count)}) : null,
      t.hidden ? h("span", {class: "tag-hidden-note", text: `${t.hidden} hidden`}) : null,
      t.mine ? h("button", {type: "button", class: "tag-remove", "aria-label": `Remove your tag #${t.name}`,
                            title: "Remove your tag", text: "×", onclick: () => this.remove(t.mine, t.name)}) : null));
    this.list.replaceChildren(...items);
    if (!items.length) this.list.append(h("li", {class: "tag-none muted", text: "No tags yet."}));
  }

  async add(text) {
    if (!text.trim()) { this.say("Write a tag first, e.g. #ring.", "error"); return; }
    const body = await this.call("POST", this.url("subject_tags", this.subjectId), {tags: text});
    if (!body) return;
    this.input.value = "";
    this.render(body);
    this.say("Tags added. Thank you!");
  }

  async remove(tagId, name) {
    if (await this.call("DELETE", this.url("tag", tagId)) === null) return;
    await this.show(this.subjectId);
    this.say(`Removed #${name}.`);
  }

  // The response body (an empty object for 204), or null after saying what went wrong.
  async call(method, url, json) {
    const {body, error} = await apiCall(method, url, json, {limited: "Tags are limited per hour; try again later."});
    if (error) this.say(error, "error");
    return error ? null : body;
  }
}
