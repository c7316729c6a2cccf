// Names for two elements of the theme that axe-core flags as unnamed: the search dialog and the
// progress bar that instant navigation adds while a page loads.
const NAMES = { ".md-search[role=dialog]": "Search", ".md-progress[role=progressbar]": "Loading page" };

function nameAll() {
  for (const [selector, label] of Object.entries(NAMES)) {
    for (const el of document.querySelectorAll(selector)) {
      if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", label);
    }
  }
}

nameAll();
new MutationObserver(nameAll).observe(document.body, { childList: true, subtree: true });
