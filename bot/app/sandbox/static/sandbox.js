// The sandbox page: keeps the regions fresh, sends what the person does, formats Slack dates.
(() => {
  "use strict";

  const body = document.body;
  const view = {
    as: body.dataset.as,
    conv: body.dataset.conv,
    version: body.dataset.version,
    now: new Date(body.dataset.now),
    generation: 0,
    html: { sidebar: null, pane: null },
    modalKey: document.getElementById("modal-root").dataset.key || "",
    openThreads: new Set(),
    lastButton: null,
    seenNotes: null,
    toBottom: true,
  };
  const status = document.getElementById("status");

  // --- Slack's <!date^...> formats, in the viewer's own time zone -----------------------------

  const format = (date, options) => new Intl.DateTimeFormat(undefined, options).format(date);
  const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const dayOffset = (date, now) => Math.round((midnight(date) - midnight(now)) / 86400000);
  const pad = (n) => String(n).padStart(2, "0");

  function pretty(date, fallback) {
    const words = { 0: "Today", 1: "Tomorrow", "-1": "Yesterday" };
    return words[dayOffset(date, view.now)] || fallback;
  }

  function ago(date) {
    const seconds = Math.round((date - view.now) / 1000);
    const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) || units[3];
    return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(
      Math.round(seconds / size), unit);
  }

  function slackDate(date, pattern) {
    const short = format(date, { month: "short", day: "numeric", year: "numeric" });
    const long = format(date, { month: "long", day: "numeric", year: "numeric" });
    const full = format(date, { weekday: "long", month: "long", day: "numeric", year: "numeric" });
    const tokens = {
      date_num: `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
      date: long,
      date_short: short,
      date_long: full,
      date_pretty: pretty(date, long),
      date_short_pretty: pretty(date, short),
      date_long_pretty: pretty(date, full),
      time: format(date, { hour: "numeric", minute: "2-digit" }),
      time_secs: format(date, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
      ago: ago(date),
    };
    return pattern.replace(/\{(\w+)\}/g, (all, token) => tokens[token] ?? all);
  }

  function formatTimes(root) {
    root.querySelectorAll("time[data-format]").forEach((el) => {
      const date = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) return;
      el.textContent = slackDate(date, el.dataset.format);
      el.title = format(date, { dateStyle: "full", timeStyle: "long" });
    });
  }

  // --- talking to the sandbox --------------------------------------------------------------------

  async function post(url, data) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data),
    });
    let json = {};
    try { json = await answer.json(); } catch (_) { /* an empty answer */ }
    if (!answer.ok) throw new Error(json.error || `The sandbox answered ${answer.status}.`);
    return json;
  }

  let sayTimer = 0;

  function say(text) {
    status.textContent = "";
    window.clearTimeout(sayTimer);
    window.setTimeout(() => { status.textContent = text; }, 30);
    sayTimer = window.setTimeout(() => { status.textContent = ""; }, 8000);
  }

  const sleep = (ms) => new Promise((done) => window.setTimeout(done, ms));

  // --- regions -----------------------------------------------------------------------------------

  function replace(id, html, key) {
    if (view.html[key] === html) return false;
    view.html[key] = html;
    const region = document.getElementById(id);
    const focused = document.activeElement && region.contains(document.activeElement)
      ? document.activeElement.id : null;
    const scroller = document.getElementById("pane");
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    region.innerHTML = html;
    region.querySelectorAll("details[data-thread]").forEach((d) => {
      d.open = view.openThreads.has(d.dataset.thread);
    });
    formatTimes(region);
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    if (key === "pane" && (atBottom || view.toBottom)) scroller.scrollTop = scroller.scrollHeight;
    if (key === "pane") view.toBottom = false;
    return true;
  }

  // A note only this person sees (a refusal, a command's answer) is brought into view and read out.
  function showNewNotes() {
    const notes = [...document.querySelectorAll("#pane-content article.ephemeral")];
    const fresh = view.seenNotes ? notes.filter((n) => !view.seenNotes.has(n.id)) : [];
    view.seenNotes = new Set(notes.map((n) => n.id));
    if (!fresh.length) return;
    const last = fresh[fresh.length - 1];
    last.scrollIntoView({ block: "nearest" });
    say(`Only visible to you: ${last.dataset.summary || "a note from the app."}`);
  }

  function applyModal(html, key) {
    if (key === view.modalKey) return;
    view.modalKey = key;
    const root = document.getElementById("modal-root");
    const old = root.querySelector("dialog");
    if (old && old.open) old.close();
    root.innerHTML = html;
    const dialog = root.querySelector("dialog");
    if (!dialog) {
      const back = view.lastButton && document.getElementById(view.lastButton);
      if (back) back.focus();
      return;
    }
    formatTimes(dialog);
    dialog.showModal();
    const invalid = dialog.querySelector("[aria-invalid=true]");
    const first = invalid && invalid.tagName === "FIELDSET" ? invalid.querySelector("input") : invalid;
    (first || dialog.querySelector("input, select, textarea, button[type=submit]"))?.focus();
  }

  function apply(data) {
    view.version = data.version;
    if (data.conversation !== view.conv) {
      view.conv = data.conversation;
      body.dataset.conv = view.conv;
    }
    view.now = new Date(data.now);
    const now = document.getElementById("now");
    now.setAttribute("datetime", data.now);
    document.getElementById("offset").textContent = data.offset;
    formatTimes(document.querySelector(".clock"));
    replace("sidebar", data.sidebar, "sidebar");
    if (replace("pane-content", data.pane, "pane")) {
      jumpToHash();
      showNewNotes();
    }
    applyModal(data.modal, data.modal_key);
    document.getElementById("command-form").hidden = view.conv === "home";
  }

  async function refresh(wait) {
    const generation = view.generation;
    const query = new URLSearchParams({ as: view.as, c: view.conv });
    if (wait) query.set("v", view.version);
    const answer = await fetch(`/sandbox/state?${query}`, { cache: "no-store" });
    if (!answer.ok) throw new Error(`The sandbox answered ${answer.status}.`);
    const data = await answer.json();
    if (generation !== view.generation || data.unchanged) return;
    apply(data);
  }

  async function poll() {
    for (;;) {
      try {
        await refresh(true);
      } catch (_) {
        say("The sandbox does not answer; trying again.");
        await sleep(2000);
      }
    }
  }

  function jumpToHash() {
    const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    target.classList.add("highlight");
  }

  // --- choosing who and where ------------------------------------------------------------------

  function choose(changes) {
    const { keepHash, ...picked } = changes;
    Object.assign(view, picked);
    view.generation += 1;
    view.seenNotes = null;
    view.toBottom = Boolean(changes.conv) && !window.location.hash;
    const url = new URL(window.location.href);
    url.searchParams.set("as", view.as);
    url.searchParams.set("c", view.conv);
    if (changes.conv && !keepHash) url.hash = "";
    window.history.replaceState(null, "", url);
    body.dataset.as = view.as;
    body.dataset.conv = view.conv;
    refresh(false).catch((error) => say(error.message));
    if (view.conv === "home") post("/sandbox/home", { as: view.as }).catch((e) => say(e.message));
  }

  document.getElementById("as").addEventListener("change", (event) => {
    choose({ as: event.target.value });
    say(`Acting as ${event.target.selectedOptions[0].textContent}.`);
  });

  document.getElementById("sidebar").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-conv]");
    if (!link) return;
    event.preventDefault();
    choose({ conv: link.dataset.conv });
    document.getElementById("pane").focus();
  });

  // Links to messages (Slack permalinks) open the conversation here, at that message.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href*='/sandbox/archives/']");
    if (!link) return;
    const match = new URL(link.href).pathname.match(/\/archives\/(\w+)\/p(\d+)(\d{6})$/);
    if (!match) return;
    event.preventDefault();
    window.history.replaceState(null, "", `#m${match[2]}-${match[3]}`);
    choose({ conv: match[1], keepHash: true });
  });

  document.addEventListener("toggle", (event) => {
    const thread = event.target.dataset && event.target.dataset.thread;
    if (!thread) return;
    if (event.target.open) view.openThreads.add(thread); else view.openThreads.delete(thread);
  }, true);

  // --- clicks, modals and commands ---------------------------------------------------------------

  document.getElementById("pane-content").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action-id]");
    if (!button || button.disabled) return;
    view.lastButton = button.id;
    button.setAttribute("aria-busy", "true");
    try {
      await post("/sandbox/click", {
        as: view.as,
        channel: button.dataset.channel,
        ts: button.dataset.ts,
        block_id: button.dataset.blockId,
        action_id: button.dataset.actionId,
      });
    } catch (error) {
      say(error.message);
    } finally {
      button.removeAttribute("aria-busy");
    }
  });

  function enteredValues(form) {
    const values = {};
    form.querySelectorAll("[data-block-id][data-action-id]").forEach((el) => {
      let value;
      if (el.tagName === "FIELDSET") {
        const picked = [...el.querySelectorAll("input:checked")].map((i) => i.value);
        value = el.querySelector("input[type=checkbox]") ? picked : (picked[0] ?? null);
      } else {
        value = el.value;
      }
      values[el.dataset.blockId] = values[el.dataset.blockId] || {};
      values[el.dataset.blockId][el.dataset.actionId] = value;
    });
    return values;
  }

  const modalRoot = document.getElementById("modal-root");

  modalRoot.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await post(`/sandbox/views/${form.dataset.viewId}/submit`,
        { as: view.as, values: enteredValues(form) });
      await refresh(false);
    } catch (error) {
      say(error.message);
    } finally {
      submit.disabled = false;
    }
  });

  async function closeModal(dialog) {
    try {
      await post(`/sandbox/views/${dialog.dataset.viewId}/close`, { as: view.as });
      await refresh(false);
    } catch (error) {
      say(error.message);
    }
  }

  modalRoot.addEventListener("click", (event) => {
    if (event.target.closest("[data-close]")) closeModal(event.target.closest("dialog"));
  });

  modalRoot.addEventListener("cancel", (event) => {
    event.preventDefault();
    closeModal(event.target);
  }, true);

  document.getElementById("command-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("command");
    try {
      await post("/sandbox/command", { as: view.as, channel: view.conv, text: input.value });
      say(`Sent ${input.value.trim()}.`);
      input.value = "/nps ";
    } catch (error) {
      say(error.message);
    }
  });

  document.querySelector(".advance").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-advance]");
    if (!button) return;
    button.disabled = true;
    try {
      const moved = await post("/sandbox/clock", { hours: Number(button.dataset.advance) });
      say(`Moved the clock forward ${button.textContent} (now ${moved.offset}). Timers: ` +
        `${moved.fired} escalation steps, ${moved.breaches} overdue, ` +
        `${moved.reminders} reminders, ${moved.resurveys} re-surveys.`);
    } catch (error) {
      say(error.message);
    } finally {
      button.disabled = false;
    }
  });

  // --- the test response form --------------------------------------------------------------------

  const responseForm = document.getElementById("response-form");

  function showFieldErrors(errors) {
    responseForm.querySelectorAll(".field-error").forEach((el) => el.remove());
    responseForm.querySelectorAll("[aria-invalid]").forEach((el) => {
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby",
        (el.getAttribute("aria-describedby") || "").replace(/\s*r-\w+-error/, "").trim());
    });
    Object.entries(errors).forEach(([name, message]) => {
      const field = responseForm.elements[name];
      if (!field) return;
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = `r-${name}-error`;
      note.textContent = message;
      field.closest(".field").append(note);
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby",
        `${field.getAttribute("aria-describedby") || ""} ${note.id}`.trim());
    });
    const first = responseForm.querySelector("[aria-invalid=true]");
    if (first) first.focus();
  }

  responseForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = document.getElementById("response-result");
    const fields = Object.fromEntries(new FormData(responseForm));
    result.textContent = "Sending…";
    try {
      const sent = await post("/sandbox/responses", fields);
      showFieldErrors(sent.fields || {});
      const answer = sent.answer || {};
      if (sent.status === 202 || sent.status === 200) {
        result.textContent = `Stored ${answer.response_id}: case ${answer.case_id}, ` +
          `a ${answer.segment}. Its card is on its way.`;
      } else if (sent.status === 422) {
        result.textContent = "The webhook refused it: check the fields marked above.";
      } else {
        result.textContent = `The webhook answered ${sent.status || "nothing"}` +
          (answer.error ? `: ${answer.error}.` : ".");
      }
    } catch (error) {
      result.textContent = error.message;
    }
  });

  // --- start -------------------------------------------------------------------------------------

  view.html.sidebar = null;
  view.html.pane = null;
  formatTimes(document);
  const dialog = document.querySelector("#modal-root dialog");
  if (dialog) dialog.showModal();
  document.getElementById("command-form").hidden = view.conv === "home";
  if (view.conv === "home") post("/sandbox/home", { as: view.as }).catch((e) => say(e.message));
  jumpToHash();
  poll();
})();
