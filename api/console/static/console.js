// The console's one script: dialogs, confirmations, copy, selection and live progress.
// Loaded from the app itself (the Content-Security-Policy allows no inline or foreign script).
"use strict";

function confirmThen(message, proceed) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector(".confirm-message").textContent = message;
  dialog.returnValue = "";
  dialog.addEventListener("close", function onClose() {
    dialog.removeEventListener("close", onClose);
    if (dialog.returnValue === "ok") proceed();
  });
  dialog.showModal();
}

function wireDialogs() {
  document.querySelectorAll("[data-open]").forEach((button) => {
    button.addEventListener("click", () => document.getElementById(button.dataset.open).showModal());
  });
  document.querySelectorAll("[data-close]").forEach((button) => {
    button.addEventListener("click", () => document.getElementById(button.dataset.close).close());
  });
  document.querySelectorAll("dialog[data-open-on-load]").forEach((dialog) => dialog.showModal());
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (form.dataset.confirmed === "yes") return;
      event.preventDefault();
      confirmThen(form.dataset.confirm, () => { form.dataset.confirmed = "yes"; form.requestSubmit(); });
    });
  });
}

function wireCopy() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
      } catch (err) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      const done = document.getElementById("copied");
      if (done) done.hidden = false;
    });
  });
}

function wireSelection() {
  const boxes = Array.from(document.querySelectorAll("input.select-key"));
  const all = document.getElementById("select-all");
  const button = document.getElementById("delete-selected");
  if (!button) return;
  const update = () => {
    const n = boxes.filter((b) => b.checked).length;
    button.disabled = n === 0;
    button.textContent = n ? `Delete selected (${n})` : "Delete selected";
    document.querySelectorAll(".bulk-count").forEach((el) => { el.textContent = String(n); });
  };
  boxes.forEach((b) => b.addEventListener("change", update));
  if (all) all.addEventListener("change", () => { boxes.forEach((b) => { b.checked = all.checked; }); update(); });
  update();
}

function formatLeft(ms) {
  if (ms <= 0) return "0s";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (d ? `${d}d ` : "") + (d || h ? `${h}h ` : "") + `${m}m ${sec}s`;
}

function wireProgress() {
  const section = document.getElementById("progress");
  if (!section) return;
  const grace = document.getElementById("grace");
  const tick = () => {
    const deadline = grace.dataset.deadline;
    if (deadline) document.getElementById("countdown").textContent = formatLeft(Date.parse(deadline) - Date.now());
  };
  tick();
  setInterval(tick, 1000);
  const settled = ["completed", "cancelled", "failed"];
  if (settled.includes(section.dataset.status)) return;
  // A decision (Cancel, Delete now) navigates away: polling must not reload over it.
  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; });
  document.querySelectorAll("#decisions form").forEach((form) => {
    form.addEventListener("submit", () => { if (form.dataset.confirmed === "yes") leaving = true; });
  });
  const poll = async () => {
    if (leaving) return;
    let body;
    try {
      const response = await fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      body = await response.json();
    } catch (err) { return; }
    if (leaving) return;
    if (settled.includes(body.status)) { leaving = true; window.location.reload(); return; }
    const status = document.getElementById("teardown-status");
    status.textContent = body.status;
    status.className = `status-badge badge ${body.status}`;
    document.getElementById("percent-bar").value = body.percent;
    document.getElementById("percent").textContent = `${body.percent.toFixed(1)}%`;
    grace.hidden = !(body.status === "grace" && body.grace_deadline);
    grace.dataset.deadline = body.grace_deadline || "";
    const decisions = document.getElementById("decisions");
    if (decisions) decisions.hidden = !body.cancellable;
    body.steps.forEach((step) => {
      const row = document.querySelector(`tr[data-step="${step.name}"]`);
      if (!row) return;
      row.querySelector(".step-status").textContent = step.status;
      row.querySelector(".step-done").textContent = String(step.done);
      row.querySelector(".step-total").textContent = String(step.total);
    });
    section.dataset.status = body.status;
  };
  setInterval(poll, 1000);
}

function wireAutoSubmit() {
  document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });
}

document.addEventListener("DOMContentLoaded", () => {
  wireDialogs();
  wireAutoSubmit();
  wireCopy();
  wireSelection();
  wireProgress();
  document.body.dataset.ready = "yes";  // handlers are in place (tests wait for this)
});
