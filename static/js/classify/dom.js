// classify/dom.js: the small browser helpers every classify module uses: element lookup and building,
// the status line, local storage that survives private mode, the CSRF token for POSTs, and a JSON call.

export const $ = (id) => document.getElementById(id);

// Keys in localStorage; bump the version suffix to show something again to everyone.
export const STORE = {tutorial: "zooloop.tutorial.seen.v1", feedback: "zooloop.feedback.optin"};

export const store = {
  get(key) { try { return localStorage.getItem(key); } catch { return null; } },
  set(key, value) { try { localStorage.setItem(key, value); } catch { /* private mode: forget quietly */ } },
  remove(key) { try { localStorage.removeItem(key); } catch { /* private mode: nothing was stored */ } },
};

// h("button", {class: "x", onclick: fn, text: "Go"}, child, ...): false, null and undefined attributes are left out.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function isTyping(target) {
  return target instanceof HTMLElement && (target.matches("input, select, textarea") || target.isContentEditable);
}

export function setStatus(text, kind = "info") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

// A same-origin JSON call: {body} (an empty object for 204), or {error} with a sentence to show as it is
// (the server's own `detail`, or what to do about a lost connection or the rate limit).
export async function apiCall(method, url, json, {limited = "Try again later."} = {}) {
  let res;
  try {
    res = await fetch(url, {method, credentials: "same-origin",
                            headers: {Accept: "application/json", "Content-Type": "application/json",
                                      "X-CSRFToken": csrfToken()},
                            body: json === undefined ? undefined : JSON.stringify(json)});
  } catch {
    return {error: "Could not reach the server; check your connection and try again."};
  }
  const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (res.ok) return {body};
  const wait = res.status === 429 ? ` ${limited}` : "";
  return {error: `${body.detail || `The server answered ${res.status}.`}${wait}`};
}
