// Fetch helpers for the builder API: JSON in and out, CSRF header, and the server's `detail` as the error.

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export async function call(url, {method = "GET", body} = {}) {
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json", "X-CSRFToken": csrfToken()}};
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    return {ok: false, status: 0, data: {detail: "Could not reach the server: check your connection."}};
  }
  const data = await res.json().catch(() => ({}));
  return {ok: res.ok, status: res.status, data};
}
