// subject.js: a galaxy's own page. Its tags are rendered by the server; this adds the volunteer's
// remove buttons and, for one who classified the galaxy, the box to add tags.
import {TagBox} from "./classify/tags.js";

const config = JSON.parse(document.getElementById("subject-config").textContent);
const box = new TagBox(document.getElementById("subject-tags"),
                       {urls: config.urls, canTag: config.can_tag, suggestions: config.suggestions});
box.show(config.subject);
