"""The chapter in a real browser (Debian's chromium through Playwright), fully offline: every widget
answers its controls with computed values, keyboard alone operates them, axe-core finds no serious
or critical violation in either palette, a 375 px screen never scrolls sideways, and the live
base-vs-assistant and before/after runs reproduce the build-time lanes token for token.

Screenshots (light, dark, narrow) go to test-results/.
"""

import html
import json
import re
from pathlib import Path

import pytest

from chromium import Server, launch_browser
from site_builder import ROOT
from widgets import preference as P
from widgets import template_view as T

RESULTS = ROOT / "test-results"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BOOT_MS = 180_000  # Pyodide start on a slow shared CPU


@pytest.fixture(scope="module")
def base_url(site):
    server = Server(site)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, base_url):
    """One chapter page with every widget mounted; records console errors and foreign requests."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, service_workers="block")
    pg = context.new_page()
    pg.errors, pg.foreign = [], []
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: not r.url.startswith(base_url) and not r.url.startswith("data:")
          and not r.url.startswith("blob:") and pg.foreign.append(r.url))
    pg.goto(base_url + "chapter/")
    pg.wait_for_function("document.querySelectorAll('.llmb-widget').length > 0 && "
                         "[...document.querySelectorAll('.llmb-widget')].every(w => w.dataset.llmbMounted === 'live')",
                         timeout=BOOT_MS)
    yield pg
    context.close()


def widget(page, name):
    return page.locator(f'.llmb-widget[data-widget="{name}"]')


def embedded_state(site, name):
    """The state the build rendered into the page (the same JSON the browser starts from)."""
    page = (site / "chapter" / "index.html").read_text(encoding="utf-8")
    m = re.search(rf'data-widget="{name}"[^>]*data-state="([^"]*)"', page, re.S)
    return json.loads(html.unescape(m.group(1)))


def press(locator):
    """Operate a control by keyboard: focus it, then Enter."""
    locator.focus()
    locator.press("Enter")


def test_stages_highlight_an_aspect(page):
    w = widget(page, "stages")
    press(w.locator('button[data-value="objective"]'))
    w.locator('button[data-value="objective"][aria-pressed="true"]').wait_for()
    assert w.locator("dd.focus").count() == 3 and w.locator("dt.focus").count() == 3


def test_data_scale_switches_axes(page):
    w = widget(page, "data_scale")
    linear = [float(r.get_attribute("width")) for r in w.locator("rect.bar").all()]
    assert linear[1] == 3.0
    press(w.locator('button[data-value="log"]'))
    w.locator('button[data-value="log"][aria-pressed="true"]').wait_for()
    log = [float(r.get_attribute("width")) for r in w.locator("rect.bar").all()]
    assert log[0] / log[1] == pytest.approx(12.477 / 6, rel=1e-3)
    assert "orders of magnitude" in w.locator("[data-scale-caption]").text_content()


def test_preference_updates_match_the_python_math(page, site):
    w = widget(page, "preference")
    state = embedded_state(site, "preference")
    for action, value, selector in (("method", "rlhf", 'button[data-action="method"][data-value="rlhf"]'),
                                    ("beta", "0.5", 'button[data-action="beta"][data-value="0.5"]'),
                                    ("apply", "1", 'button[data-action="apply"][data-value="1"]'),
                                    ("apply", "10", 'button[data-action="apply"][data-value="10"]')):
        press(w.locator(selector))
        state = P.update(state, action, value)
        w.locator(f'[data-stat="steps"]:text-is("{state["steps"]}")').wait_for()
    expected = P.readout(state)
    assert w.locator('[data-prob="A"] strong').text_content() == P.pct(expected["p"][0])
    assert w.locator('[data-stat="kl"]').text_content() == f'{expected["kl"]:.4f}'
    assert "reward model" in w.locator(".llmb-pref-flow").text_content()
    press(w.locator('button[data-action="method"][data-value="dpo"]'))
    press(w.locator('button[data-action="apply"][data-value="10"]'))
    state = P.update(P.update(state, "method", "dpo"), "apply", "10")
    w.locator('[data-stat="loss"]').wait_for()
    assert w.locator('[data-stat="loss"]').text_content() == f'{P.readout(state)["loss"]:.4f}'
    assert w.locator('[data-stat="margin"]').text_content() == f'{P.readout(state)["margin"]:+.3f}'


def test_template_view_tokens_ids_and_mask(page, site):
    w = widget(page, "template_view")
    state = embedded_state(site, "template_view")
    press(w.locator('button[data-value="raw"]'))
    tokens = w.locator(".llmb-tok")
    tokens.first.wait_for()
    rows = T.current(state)["tokens"]
    assert tokens.count() == len(rows)
    tokens.nth(0).focus()
    tip = page.evaluate("el => getComputedStyle(el, '::after').content", tokens.nth(0).element_handle())
    assert tip == f'"id {rows[0][1]}"'
    press(w.locator('button[data-action="think"][data-value="on"]'))
    w.locator('button[data-action="think"][data-value="on"][aria-pressed="true"]').wait_for()
    press(w.locator('button[data-value="mask"]'))
    w.locator(".llmb-gen-start").wait_for()
    state = T.update(T.update(state, "think", "on"), "view", "mask")
    assert w.locator(".llmb-tok.trained").count() == sum(r[3] for r in T.current(state)["tokens"])


def test_quick_check_by_keyboard(page):
    w = widget(page, "quick_check")
    press(w.locator('button[data-value="0:1"]'))
    w.locator(".llmb-feedback").first.wait_for()
    assert "Correct." in w.locator(".llmb-feedback").first.text_content()
    press(w.locator('button[data-value="1:0"]'))
    press(w.locator('button[data-value="2:0"]'))
    w.locator("[data-score]").wait_for()
    assert w.locator("[data-score]").get_attribute("data-score") == "2"


def test_live_lanes_equal_the_build_time_lanes(page, site):
    w = widget(page, "base_vs_assistant")
    state = embedded_state(site, "base_vs_assistant")
    press(w.locator('button[data-action="run"]'))
    page.wait_for_function(
        "() => /match|differs|Could not/.test(document.querySelector('.llmb-widget[data-widget=base_vs_assistant] [data-status]').textContent)",
        timeout=600_000)
    status = w.locator("[data-status]").text_content()
    assert "Both lanes match the build-time text, token for token." == status
    prompt = state["prompts"][state["current"]]
    for lane in ("raw", "chat"):
        assert w.locator(f'[data-lane="{lane}"]').text_content() == state["lanes"][prompt][lane]["text"]


def test_before_after_lanes_run_live_like_the_build(page, site):
    """The adapter off and on, in the browser, on a tools request: both lanes equal the build's
    token for token, and the adapter-on lane calls the tool where the original does not."""
    w = widget(page, "adapter_compare")
    state = embedded_state(site, "adapter_compare")
    prompt = state["requests"][state["current"]]["prompt"]
    assert state["requests"][state["current"]]["tools"]
    lanes = state["lanes"][prompt]
    assert lanes["off"]["prompt_ids"] == lanes["on"]["prompt_ids"] and lanes["off"]["ids"] != lanes["on"]["ids"]
    assert "<tool_call>" in lanes["on"]["text"] and "<tool_call>" not in lanes["off"]["text"]
    press(w.locator('button[data-action="run"]'))
    page.wait_for_function(
        "() => /match|differs|Could not/.test(document.querySelector('.llmb-widget[data-widget=adapter_compare] [data-status]').textContent)",
        timeout=600_000)
    assert w.locator("[data-status]").text_content() == "Both lanes match the build-time text, token for token."
    for lane in ("off", "on"):
        assert w.locator(f'[data-lane="{lane}"]').text_content() == lanes[lane]["text"]


def test_axe_after_the_widgets_changed_state(page):
    """The states the reader reaches (mask view, RLHF, answered questions) stay accessible too."""
    tv = widget(page, "template_view")
    for value in ("raw", "mask"):
        press(tv.locator(f'button[data-value="{value}"]'))
        tv.locator(f'button[data-value="{value}"][aria-pressed="true"]').wait_for()
        assert axe_violations(page) == [], value
    # a token of the assistant lane opened by keyboard shows its predictions table
    token = widget(page, "base_vs_assistant").locator("details.llmb-tokd > summary").nth(1)
    widget(page, "base_vs_assistant").locator('[data-testid="lane-predictions"] > summary').click()
    token.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("details.llmb-tokd[open] table")
    assert axe_violations(page) == [], "predictions"


def test_no_console_error_and_no_foreign_request(page):
    assert page.foreign == []
    assert page.errors == []


def axe_violations(pg):
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))""")
    return result


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_and_screenshots_in_both_palettes(browser, base_url, scheme):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme=scheme,
                                  service_workers="block")
    pg = context.new_page()
    pg.goto(base_url + "chapter/")
    pg.wait_for_function("[...document.querySelectorAll('.llmb-widget')].every(w => w.dataset.llmbMounted === 'live')",
                         timeout=BOOT_MS)
    want = "slate" if scheme == "dark" else "default"
    assert pg.evaluate("document.body.getAttribute('data-md-color-scheme')") == want
    RESULTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(RESULTS / f"chapter-{scheme}.png"), full_page=True)
    assert axe_violations(pg) == []
    context.close()


def test_narrow_screen_has_no_horizontal_scroll(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 800}, service_workers="block")
    pg = context.new_page()
    pg.goto(base_url + "chapter/")
    pg.wait_for_function("[...document.querySelectorAll('.llmb-widget')].every(w => w.dataset.llmbMounted === 'live')",
                         timeout=BOOT_MS)
    for name, action in (("template_view", 'button[data-value="raw"]'), ("data_scale", 'button[data-value="log"]')):
        widget(pg, name).locator(action).click()
    pg.wait_for_timeout(300)
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    RESULTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(RESULTS / "chapter-narrow.png"), full_page=True)
    context.close()


def test_reads_with_javascript_off(browser, base_url, site):
    context = browser.new_context(viewport={"width": 375, "height": 800}, java_script_enabled=False)
    pg = context.new_page()
    pg.goto(base_url + "chapter/")
    text = pg.locator("article").inner_text()
    for piece in ("Shared optimum", "0.00003%", "Show the answer", "The same model, fed the chat template",
                  "What the model saw", "Nearly all of it"):
        assert piece in text
    lanes = embedded_state(site, "base_vs_assistant")
    prompt = lanes["prompts"][lanes["current"]]
    for lane in ("raw", "chat"):
        shown = pg.locator(f'[data-lane="{lane}"]').inner_text()
        assert " ".join(shown.split()) == " ".join(lanes["lanes"][prompt][lane]["text"].split())
    for selector in ('[data-widget="data_scale"] svg', '[data-widget="preference"] svg',
                     '[data-widget="preference"] ol.llmb-pref-flow', '[data-widget="stages"] ol'):
        assert pg.locator(f".llmb-widget{selector}").is_visible(), selector
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()
