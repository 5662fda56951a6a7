// research/last_similar.js: after Done on the classify page, a "More like this" link for the galaxy just
// classified. The link's data-href holds the page's address with 0 where the subject id goes.
const link = document.getElementById("last-subject-similar");
if (link) {
  document.addEventListener("classify:saved", (e) => {
    link.href = link.dataset.href.replace("/0/", `/${e.detail.subject.id}/`);
    link.hidden = false;
  });
}
