// classify/favourite.js: the heart button that adds the galaxy on screen to the volunteer's favourites.
import {$, csrfToken, setStatus} from "./dom.js";

export function setFavourite(on) {
  const btn = $("favourite");
  btn.setAttribute("aria-pressed", String(on));
  btn.setAttribute("aria-label", on ? "Remove from favourites" : "Add to favourites");
  btn.querySelector(".fav-icon").textContent = on ? "♥" : "♡";
  btn.querySelector(".fav-text").textContent = on ? "Favourited" : "Favourite";
}

async function toggleFavourite({state, config}) {
  if (!state.subject) return;
  try {
    const res = await fetch(config.urls.favourite.replace("{id}", String(state.subject.id)), {
      method: "POST", credentials: "same-origin",
      headers: {Accept: "application/json", "X-CSRFToken": csrfToken()},
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.detail || (res.status === 403 ? "log in to keep favourites" : `error ${res.status}`));
    setFavourite(Boolean(data.favourite));
    setStatus(data.favourite ? "Added to your favourites." : "Removed from your favourites.");
  } catch (err) {
    setStatus(`Could not change the favourite: ${err.message}.`, "error");
  }
}

export function bindFavourite(page) {
  $("favourite").addEventListener("click", () => toggleFavourite(page));
}
