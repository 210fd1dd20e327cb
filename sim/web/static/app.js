// bwsim serve: start a run, poll its status, show the progress; no library, no build step.
"use strict";

function formBody(form) {
  const body = {};
  const data = new FormData(form);
  for (const [key, value] of data.entries()) {
    if (key === "scenarios") {
      (body.scenarios = body.scenarios || []).push(value);
    } else {
      body[key] = value;
    }
  }
  if (form.id === "compare-form") {
    body.scenarios = orderedChoice(form);
  }
  return body;
}

// The scenarios in the order they were ticked: the first ticked is the reference.
const ticked = [];
function orderedChoice(form) {
  const boxes = Array.from(form.querySelectorAll('input[name="scenarios"]'));
  const on = boxes.filter((b) => b.checked).map((b) => b.value);
  const kept = ticked.filter((n) => on.includes(n));
  on.forEach((n) => { if (!kept.includes(n)) kept.push(n); });
  ticked.length = 0;
  kept.forEach((n) => ticked.push(n));
  return kept;
}

function showReference(form) {
  const ref = document.getElementById("reference");
  if (!ref) return;
  const chosen = orderedChoice(form);
  const box = chosen.length ? form.querySelector(`input[value="${CSS.escape(chosen[0])}"]`) : null;
  ref.textContent = box ? box.parentElement.querySelector("strong").textContent : "the first ticked";
}

async function poll(form, status) {
  const bar = form.querySelector("progress");
  const text = document.getElementById("progress-text");
  const error = document.getElementById("job-error");
  for (;;) {
    bar.max = status.total || 1;
    bar.value = status.done;
    text.textContent = status.state === "done"
      ? (status.cached ? "done (from the cache)" : "done")
      : `${status.done} of ${status.total} steps — ${status.phase}`;
    if (status.state === "done") {
      form.dataset.state = "done";
      bar.value = bar.max;
      const link = document.createElement("a");
      link.href = status.result_url;
      link.id = "result-link";
      link.textContent = "open the result";
      text.append(" — ", link);
      setTimeout(() => window.location.assign(status.result_url), 600);
      return;
    }
    if (status.state === "failed") {
      form.dataset.state = "failed";
      error.textContent = "The run failed: " + status.error;
      error.hidden = false;
      form.querySelector('button[type="submit"]').disabled = false;
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
    const answer = await fetch(`/api/jobs/${status.id}`);
    status = await answer.json();
    if (!answer.ok) {
      error.textContent = status.detail || "lost the job";
      error.hidden = false;
      return;
    }
  }
}

async function start(event) {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("job-error");
  const button = form.querySelector('button[type="submit"]');
  error.hidden = true;
  button.disabled = true;
  form.dataset.state = "running";
  form.querySelector(".progress").hidden = false;
  try {
    const answer = await fetch(form.dataset.endpoint, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(formBody(form)),
    });
    const status = await answer.json();
    if (!answer.ok) {
      form.dataset.state = "refused";
      error.textContent = status.detail || `refused (${answer.status})`;
      error.hidden = false;
      button.disabled = false;
      form.querySelector(".progress").hidden = true;
      return;
    }
    await poll(form, status);
  } catch (e) {
    error.textContent = "The server did not answer: " + e;
    error.hidden = false;
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.job").forEach((form) => {
    form.addEventListener("submit", start);
    form.addEventListener("change", () => showReference(form));
    showReference(form);
  });
});
