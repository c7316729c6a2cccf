// Boots Pyodide once per tab, after the page's text is on screen, and hands every widget
// placeholder to widgets/page.py. Material's instant navigation swaps pages without
// reloading this module, so mounting hangs off `document$` (or DOMContentLoaded without it).

import * as model from "./llmb-model.js";

const RUNTIME = new URL(".", import.meta.url);
const BUNDLE = "__LLMB_BUNDLE__"; // core/ + widgets/ + jinja2 + markupsafe, named by content hash at build
const EXTRACT_DIR = "/home/pyodide/llmb";

// Updates `from` in place to match `to`: elements of the same tag are kept (so a button being
// clicked or a field being typed in survives a re-render), attributes and text are synced.
function morphNode(from, to) {
  if (from.nodeType !== to.nodeType || from.nodeName !== to.nodeName) {
    from.replaceWith(to.cloneNode(true));
    return;
  }
  if (from.nodeType !== Node.ELEMENT_NODE) {
    if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
    return;
  }
  // A disclosure the reader opened (a think block, a token's predictions) stays open.
  const kept = (name) => name === "open" && from.nodeName === "DETAILS";
  for (const { name } of [...from.attributes]) if (!to.hasAttribute(name) && !kept(name)) from.removeAttribute(name);
  for (const { name, value } of [...to.attributes]) if (from.getAttribute(name) !== value) from.setAttribute(name, value);
  // A field's value follows the state only when the state changed it since the last render:
  // what the reader is typing (already in the state) is never overwritten mid-word.
  if (from.nodeName === "TEXTAREA") {
    if (from.llmbRendered !== to.value) from.value = from.llmbRendered = to.value;
    return;
  }
  if (from.nodeName === "INPUT") {
    if (from.checked !== to.hasAttribute("checked")) from.checked = to.hasAttribute("checked");
    const value = to.getAttribute("value");
    if (value !== null && from.llmbRendered !== value) from.value = from.llmbRendered = value;
  }
  morphChildren(from, to);
  if (from.nodeName === "SELECT") from.value = to.querySelector("option[selected]")?.value ?? from.value;
}

function morphChildren(from, to) {
  const old = [...from.childNodes];
  const next = [...to.childNodes];
  next.forEach((child, i) => (i < old.length ? morphNode(old[i], child) : from.append(child.cloneNode(true))));
  old.slice(next.length).forEach((child) => child.remove());
}

function morph(root, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  morphChildren(root, template.content);
}

const llmb = (globalThis.llmb ??= {
  siteURL: new URL("..", RUNTIME).href,
  model,
  morph,
  timings: model.timings,
  python: null,
});

// Resolves once the first paint after `load` has happened: the text is readable by then and
// the multi-megabyte downloads below do not compete with it.
function textVisible() {
  return new Promise((resolve) => {
    const later = () => requestAnimationFrame(() => setTimeout(resolve, 0));
    if (document.readyState === "complete") later();
    else addEventListener("load", later, { once: true });
  });
}

function boot() {
  llmb.python ??= (async () => {
    await textVisible();
    llmb.timings.text_visible_ms = performance.now();
    const t0 = performance.now();
    const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", RUNTIME).href);
    const pyodide = await loadPyodide({
      indexURL: new URL("pyodide/", RUNTIME).href,
      stdout: (line) => console.log(line),
      stderr: (line) => console.warn(line),
    });
    const response = await fetch(new URL(BUNDLE, RUNTIME));
    if (!response.ok) throw new Error(`${BUNDLE}: HTTP ${response.status}`);
    pyodide.unpackArchive(await response.arrayBuffer(), "zip", { extractDir: EXTRACT_DIR });
    pyodide.runPython(`import sys; sys.path.insert(0, ${JSON.stringify(EXTRACT_DIR)})`);
    const app = pyodide.pyimport("widgets.page");
    llmb.timings.pyodide_boot_ms = performance.now() - t0;
    llmb.pyodide = pyodide;
    return app;
  })();
  return llmb.python;
}

function showBootState(roots, text, kind) {
  for (const root of roots) {
    let badge = root.querySelector(":scope > .llmb-boot");
    if (!badge) {
      badge = document.createElement("p");
      badge.className = "llmb-boot";
      badge.setAttribute("role", "status");
      root.prepend(badge);
    }
    badge.textContent = text;
    badge.dataset.state = kind;
  }
}

// Until Python is up, a widget is its static render. A click on one of its buttons, or Enter in
// a field that sends, is held (the last one per widget) and replayed once the widget is live;
// fields typed in or ticked meanwhile are read by the mount itself (widgets/page.py, Mounted).
function holdEarlyActions(root) {
  const hold = (event) => {
    const el = event.target.closest?.("[data-action]");
    if (!el || !root.contains(el)) return;
    if (event.type === "click" && el.matches("button, a")) {
      event.preventDefault();
      root.llmbEarly = { kind: "click", action: el.dataset.action, value: el.dataset.value ?? null };
      showBootState([root], `Starting Python in your browser… “${el.textContent.trim()}” will run as soon as it is ready.`, "booting");
    } else if (event.type === "keydown" && event.key === "Enter" && !event.shiftKey && !event.isComposing
               && el.dataset.enterAction) {
      event.preventDefault();
      root.llmbEarly = { kind: "enter", action: el.dataset.action };
      showBootState([root], "Starting Python in your browser… Your message will go as soon as it is ready.", "booting");
    }
  };
  root.addEventListener("click", hold, true);
  root.addEventListener("keydown", hold, true);
  return () => {
    root.removeEventListener("click", hold, true);
    root.removeEventListener("keydown", hold, true);
  };
}

function replayEarlyAction(root) {
  const early = root.llmbEarly;
  delete root.llmbEarly;
  if (!early) return;
  let selector = `[data-action="${CSS.escape(early.action)}"]`;
  if (early.value !== null && early.value !== undefined) selector += `[data-value="${CSS.escape(early.value)}"]`;
  const el = root.querySelector(selector);
  if (!el) return;
  if (early.kind === "click") el.click();
  else el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
}

async function mountAll() {
  const roots = [...document.querySelectorAll(".llmb-widget:not([data-llmb-mounted])")];
  if (!roots.length) return;
  roots.forEach((root) => root.setAttribute("data-llmb-mounted", "pending"));
  showBootState(roots, "Starting Python in your browser…", "booting");
  const releases = roots.map(holdEarlyActions);
  let app;
  try {
    app = await boot();
  } catch (error) {
    showBootState(roots, `Python could not start here: ${error.message}`, "error");
    throw error;
  }
  app.forget_detached();
  roots.forEach((root, i) => {
    releases[i]();
    if (!root.isConnected) return;
    root.querySelector(":scope > .llmb-boot")?.remove();
    try {
      app.mount(root);
    } catch (error) {
      showBootState([root], `This widget could not start: ${error.message}`, "error");
      throw error;
    }
    replayEarlyAction(root);
  });
}

if (globalThis.document$?.subscribe) {
  globalThis.document$.subscribe(() => { mountAll(); });
} else if (document.readyState === "loading") {
  addEventListener("DOMContentLoaded", () => { mountAll(); }, { once: true });
} else {
  mountAll();
}
