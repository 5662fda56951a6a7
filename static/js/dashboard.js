// Workflow dashboard: refresh the live counts and the progress of running exports every few seconds.

const config = JSON.parse(document.getElementById("dashboard-config").textContent);

function showCounts(counts) {
  for (const el of document.querySelectorAll("[data-count]")) {
    const value = counts[el.dataset.count];
    if (value !== undefined) el.textContent = String(value);
  }
}

function downloadLink(id) {
  const link = document.createElement("a");
  link.href = config.downloadUrl.replace("/0/", `/${id}/`);
  link.textContent = "Download";
  return link;
}

function showExports(exports) {
  for (const item of exports) {
    const row = document.querySelector(`[data-export-id="${item.id}"]`);
    if (!row) continue;
    row.querySelector("progress").value = item.progress;
    row.querySelector("[data-export-status]").textContent = item.status;
    row.querySelector("[data-export-rows]").textContent = String(item.n_rows);
    const cell = row.querySelector("[data-export-file]");
    if (item.status === "done" && !cell.querySelector("a")) cell.replaceChildren(downloadLink(item.id));
    if (item.status === "failed") cell.textContent = item.error;
  }
}

async function refresh() {
  if (document.hidden) return;
  try {
    const response = await fetch(config.countsUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const counts = await response.json();
    showCounts(counts);
    showExports(counts.exports);
  } catch {
    // Offline for a moment: the next tick tries again.
  }
}

setInterval(refresh, config.pollSeconds * 1000);
