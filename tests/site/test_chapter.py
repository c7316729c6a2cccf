"""The built chapter: every widget rendered statically, facts from the manifest, the glossary as
keyboard-reachable tooltips, and nothing left for JavaScript to fill in before it reads well."""

import html
import json
import re
from pathlib import Path

import pytest

WIDGETS = ["base_vs_assistant", "stages", "data_scale", "preference", "template_view", "sft_run", "adapter_compare",
           "live_chat", "quick_check"]
TERMS = ["pretraining", "SFT", "RLHF", "DPO", "chat template", "special token", "tool calling"]


@pytest.fixture(scope="module")
def chapter(site):
    return (site / "chapter" / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def manifest(site_artifact):
    return json.loads((Path(site_artifact) / "manifest.json").read_text())


def text_of(page, prose=False):
    """The article's text; ``prose``: without the per-token predictions of a precomputed reply,
    which are data behind a disclosure (the reply again, token by token, each with its table),
    not text read in order."""
    body = page.split('<article', 1)[1].split("</article>", 1)[0]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    if prose:
        body = re.sub(r'<details class="llmb-lane-preds".*?</p></details>', " ", body, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def test_every_widget_is_rendered_with_its_state(chapter):
    for name in WIDGETS:
        m = re.search(rf'<div class="llmb-widget" data-widget="{name}"[^>]*data-state="([^"]*)">(.*?)</div>', chapter, re.S)
        assert m, name
        json.loads(html.unescape(m.group(1)))
        assert len(m.group(2)) > 100, name


def test_facts_come_from_the_manifest(chapter, manifest):
    text = text_of(chapter)
    m = manifest["model"]
    assert "{{" not in text
    assert f"{m['num_layers']} layers" in text
    assert f"{m['parameters'] / 1e6:.1f} million parameters" in text
    assert f"{m['vocab_size']:,} tokens" in text
    assert f"{m['context_length']:,} tokens of context" in text
    assert f"about {manifest['onnx']['bytes'] / 1e6:.0f} MB" in text
    cpu = manifest["onnx"]["cpu"]
    cpu_mb = (cpu["bytes"] + cpu["data"]["bytes"]) / 1e6                # the graph and its weights
    assert f"({cpu_mb:.0f} MB with {cpu['quantization']['weight_format']} weights for browsers" in text
    for token, token_id in manifest["tokenizer"]["special_tokens"].items():
        assert f"<td><code>{html.escape(token)}</code></td>\n<td>{token_id}</td>" in chapter
    assert f"(id {manifest['tokenizer']['special_tokens']['<|im_end|>']})" in text


def test_the_post_training_run_is_told_with_its_own_numbers(chapter, manifest):
    text = text_of(chapter)
    post = manifest["posttrain"]
    training, counts = post["training"], post["evaluation"]["counts"]
    assert f"Over {training['steps']:,} steps" in text
    assert f"{training['trained_tokens']:,} of them" in text
    assert f"fell from {training['loss_curve'][0][1]:.2f}" in text
    assert f"to {training['loss_curve'][-1][1]:.3f} in the last" in text
    rate = {key: f"{100 * c['passed'] / c['of']:.0f}%" for key, c in counts.items()}
    assert f"with the right arguments {rate['tool_call']} of the time" in text
    assert f"answered on {rate['think']} of the word problems" in text
    assert f"stored in {post['bytes'] / 1e6:.1f} MB" in text
    free = post["free_generation"]
    pct = {name: {key: f"{100 * row['counts']['sampled'][key] / row['counts']['sampled']['of']:.0f}%"
                  for key in ("answered", "looped")} for name, row in free["rows"].items()}
    assert (f"On {free['items']} held-out plain questions, sampled as the live chat samples, the original "
            f"answered {pct['original']['answered']} and looped on {pct['original']['looped']}") in text
    assert (f"Tools on, it answered {pct['tools']['answered']} and looped on {pct['tools']['looped']}; "
            f"with Think on, {pct['think']['answered']} and {pct['think']['looped']}") in text
    assert f"On {training['distill_prompts']:,} everyday training questions, the run learned to match," in text


def test_glossary_terms_are_focusable_tooltips_and_defined(chapter):
    abbrs = re.findall(r'<abbr tabindex="0" title="([^"]+)">([^<]+)</abbr>', chapter)
    found = {term.lower() for _, term in abbrs}
    for term in TERMS:
        assert any(t.startswith(term.lower()) for t in found), term
    assert '<h2 id="glossary">' in chapter
    glossary = chapter.split('<h2 id="glossary">', 1)[1]
    assert glossary.count("<dt>") == 7


def test_reads_without_javascript(chapter, site_artifact):
    text = text_of(chapter)
    demos = json.loads((Path(site_artifact) / "demos.json").read_text())
    first = next(iter(demos["lanes"].values()))
    for lane in first.values():
        assert "".join(lane["text"].split())[:30] in "".join(text.split())
    assert "<svg" in chapter.split('data-widget="data_scale"', 1)[1].split("</figure>", 1)[0]
    assert "Illustrative" in text and "0.00003%" in text
    assert "Shared optimum" in text
    assert "Show the answer" in text  # the quick check's answers without JavaScript
    for heading in ("A base model is autocomplete", "Three stages", "Instruction tuning",
                    "How lopsided the data is", "Preference tuning", "Chat templates",
                    "It is still the same model", "Engineering takeaways", "Try this", "Quick check"):
        assert heading in text, heading
    words = len(text_of(chapter, prose=True).split())
    assert 1400 < words < 4500, words  # about 8 minutes of prose, widgets' text included


def test_landing_page_links_the_chapter(site, manifest):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="chapter/"' in index
    assert manifest["model"]["name"] in text_of(index)
