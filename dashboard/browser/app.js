// @ts-check
// The dashboard page's script, run by the browser. dashboard/page.ts imports this file as text and
// inlines it (nonce-allowed by the Content-Security-Policy) at the end of the page's <body>; it is
// never served as a file. It adds live progress through Server-Sent Events (the words of each
// report are the server's: this script only puts them in their places) and submits the page's
// forms without leaving the page; when an action ends it replaces the page's content with a fresh
// server rendering. Without it the page still works (plain form POSTs).
// The server hands it values only through the HTML: the access token is the body's
// `data-token` attribute. Type-checked against the DOM library alone (dashboard/browser/deno.json:
// no Deno globals here, no DOM globals in the Deno code) by a `deno check dashboard/browser/` of
// its own in the test task: a `deno check` whose module graph also reaches page.ts (which imports
// this file as text) checks this file with the Deno libraries instead. A classic script.
(() => {
  /**
   * The element with `id`, which the page always has and which is a `type`.
   *
   * @template {HTMLElement} T
   * @param {string} id
   * @param {{ new (): T }} type
   * @returns {T}
   */
  const element = (id, type) => {
    const found = document.getElementById(id);
    if (!(found instanceof type)) throw new TypeError(`#${id} is not a ${type.name} in the page`);
    return found;
  };
  /** Disable every action button (an action is running). */
  const disableActions = () => {
    /** @type {NodeListOf<HTMLButtonElement>} */
    const buttons = document.querySelectorAll("#content form button");
    for (const b of buttons) b.disabled = true;
  };

  const token = document.body.dataset.token;
  if (token === undefined) throw new TypeError("the page's <body> has no data-token");
  const q = "token=" + encodeURIComponent(token);
  // Refreshes can overlap (a form's own and the "done" event's): only the newest one is shown,
  // so a slow, older answer never replaces a newer page.
  let generation = 0;
  // Whether the page shows an action running (until the next fresh rendering).
  let running = false;
  // The id of the button that started the running action: disabling it took the focus away,
  // and the fresh rendering gives it back.
  /** @type {string | null} */
  let submitter = null;
  const refresh = async () => {
    const mine = ++generation;
    const response = await fetch("/?" + q, { headers: { accept: "text/html" } });
    const html = await response.text();
    if (mine !== generation) return;
    // The body only: the head's style element carries that response's nonce, not this page's, and
    // parsing it would be reported as a CSP violation.
    const body = html.slice(Math.max(0, html.indexOf("<body")));
    const doc = new DOMParser().parseFromString(body, "text/html");
    const next = doc.getElementById("content");
    const active = document.activeElement;
    const focused = active && active !== document.body ? active.id : submitter;
    if (next) {
      element("content", HTMLDivElement).replaceWith(next);
      running = false;
      submitter = null;
    }
    // Focus stays on the same control; when the action made it go (a header button of a state
    // that ended), it moves to the status header's title, which says what the state is now.
    if (!focused) return;
    const again = document.getElementById(focused) ?? document.getElementById("status-title");
    if (again) again.focus();
  };
  /** Show that `action` is running: the busy line, an empty outcome, a bar waiting for news. */
  const showRunning = (/** @type {string} */ action) => {
    disableActions();
    if (running) return;
    running = true;
    const busy = element("busy", HTMLParagraphElement);
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    spinner.setAttribute("aria-hidden", "true");
    busy.replaceChildren(spinner, "Running: " + action);
    const outcome = element("outcome", HTMLParagraphElement);
    outcome.replaceChildren();
    outcome.className = "";
    const bar = element("progress-bar", HTMLProgressElement);
    bar.removeAttribute("value");
    bar.hidden = false;
    element("progress-text", HTMLParagraphElement).textContent = "Starting " + action + "…";
    element("progress-facts", HTMLElement).hidden = true;
  };
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    event.preventDefault();
    // The fields, the pressed button's included, as `application/x-www-form-urlencoded`, the
    // form's own encoding. The page's forms have only text fields (no file input).
    const body = new URLSearchParams();
    for (const [name, value] of new FormData(form, event.submitter)) {
      if (typeof value === "string") body.append(name, value);
    }
    submitter = event.submitter instanceof HTMLElement && event.submitter.id !== ""
      ? event.submitter.id
      : null;
    showRunning(form.action.replace(/^.*\/api\/|\?.*$/g, ""));
    try {
      await fetch(form.action, { method: "POST", body, headers: { accept: "application/json" } });
    } finally {
      await refresh();
    }
  });
  const events = new EventSource("/api/events?" + q);
  // A progress report: the server's words (dashboard/progress.ts) put in their places.
  events.addEventListener("progress", (message) => {
    /**
     * @type {{ percent: number | null, text: string, label: string, amount: string,
     *   speed: string | null }}
     */
    const p = JSON.parse(message.data);
    const bar = element("progress-bar", HTMLProgressElement);
    bar.hidden = false;
    if (p.percent !== null) bar.value = p.percent;
    else bar.removeAttribute("value");
    element("progress-text", HTMLParagraphElement).textContent = p.text;
    element("progress-phase", HTMLElement).textContent = p.label;
    element("progress-amount", HTMLElement).textContent = p.amount;
    element("progress-speed", HTMLElement).textContent = p.speed ?? "not measured";
    element("progress-facts", HTMLElement).hidden = false;
  });
  events.addEventListener("state", (message) => {
    /** @type {{ busy: { action: string } | null }} */
    const state = JSON.parse(message.data);
    if (state.busy) showRunning(state.busy.action);
  });
  events.addEventListener("done", () => refresh());
  events.addEventListener("open", () => document.body.dataset.live = "yes");
  events.addEventListener("error", () => document.body.dataset.live = "no");
})();
