// classify/tutorial.js: the first-visit tutorial dialog (shown once, remembered in localStorage) and
// the field guide drawer.
import {$, STORE, store} from "./dom.js";

export class Tutorial {
  constructor() {
    this.dialog = $("tutorial");
    this.steps = [...document.querySelectorAll(".tutorial-step")];
    this.i = 0;
    $("tutorial-back").addEventListener("click", () => this.show(this.i - 1));
    $("tutorial-next").addEventListener("click", () => {
      if (this.i === this.steps.length - 1) this.dialog.close("done"); else this.show(this.i + 1);
    });
    this.dialog.addEventListener("close", () => store.set(STORE.tutorial, "1"));
    $("open-tutorial").addEventListener("click", () => this.open());
  }

  show(i) {
    this.i = Math.max(0, Math.min(this.steps.length - 1, i));
    this.steps.forEach((s, j) => { s.hidden = j !== this.i; });
    $("tutorial-progress").textContent = `${this.i + 1} of ${this.steps.length}`;
    $("tutorial-back").disabled = this.i === 0;
    $("tutorial-next").textContent = this.i === this.steps.length - 1 ? "Start classifying" : "Next";
  }

  open() {
    this.show(0);
    this.dialog.showModal();
  }

  openIfUnseen() {
    if (store.get(STORE.tutorial) !== "1") this.open();
  }
}

export function bindFieldGuide() {
  const guide = $("field-guide");
  $("open-guide").addEventListener("click", () => guide.showModal());
  guide.addEventListener("click", (e) => { if (e.target === guide) guide.close(); });  // click on the backdrop
}
