// classify/main.js: the classify page's entry point. Reads the page's config (Django's json_script),
// builds the viewer, the box tool and the per-subject state, binds each module's controls, and shows
// the first galaxy (or "all done").
//
// Every module gets the same `page` object: {config, tree, state, viewer, tool, area} and four hooks.
// The hooks exist only because tree.js's moves must redraw, submit, load and skip, while render.js,
// submit.js and loader.js import tree.js; every other call between modules is a plain import.
import {BoxTool} from "../boxtool.js";
import {$, setStatus} from "./dom.js";
import {bindFavourite} from "./favourite.js";
import {bindFeedbackOptin} from "./feedback.js";
import {bindGestures} from "./gestures.js";
import {bindKeyboard} from "./keyboard.js";
import {bindLastSubject} from "./last.js";
import {loadNext, showFinished, showSubject, skipSubject} from "./loader.js";
import {bindNav, refreshNav, render} from "./render.js";
import {submit} from "./submit.js";
import "../research/last_similar.js";  // after Done: the "More like this" link (issue #13)
import {createState} from "./tree.js";
import {Tutorial, bindFieldGuide} from "./tutorial.js";
import {Viewer, bindToolbar} from "./viewer.js";

const config = JSON.parse($("classify-config").textContent);

const page = {config, tree: config.workflow.tree, state: createState(config), area: $("task-area")};
page.viewer = new Viewer({onLayout: () => page.tool.render()});
page.tool = new BoxTool($("marks"), {
  width: 1,
  height: 1,
  onChange: () => refreshNav(page),
  onMessage: (text) => setStatus(text),
});
page.render = () => render(page);
page.submit = () => submit(page);
page.loadNext = () => loadNext(page);
page.skipSubject = () => skipSubject(page);

bindGestures(page.viewer, page.tool);
bindToolbar(page.viewer);
bindNav(page);
bindFavourite(page);
bindKeyboard(page);
bindFeedbackOptin();
bindLastSubject(page);
const tutorial = new Tutorial();
bindFieldGuide();

if (config.message) page.state.nextStatus = config.message;
if (config.finished || !config.subject) {
  showFinished(page, config.message);
} else {
  showSubject(page, config.subject);
}
if (!config.finished) tutorial.openIfUnseen();
