"""core.chat_template against transformers' apply_chat_template(tokenize=False)."""

import itertools
from datetime import datetime

import pytest
from jinja2.exceptions import SecurityError, TemplateError

from gguf_tokenizer import hf_tokenizer
from core.chat_template import load, render
from core.tools import default_toolbox

QWEN3 = load("qwen3_tools.jinja")
TOOLS = default_toolbox().schemas
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
CALC = {"type": "function", "function": {"name": "calculate", "arguments": {"expression": "2 ** 10"}}}

CONVERSATIONS = {
    "one_user": [{"role": "user", "content": "Hi"}],
    "system": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <b>&</b> café"}],
    "multi_turn": [
        {"role": "user", "content": "What is SFT?"}, {"role": "assistant", "content": "Supervised fine-tuning."},
        {"role": "user", "content": "And DPO?"}, {"role": "assistant", "content": "Preference tuning."},
        {"role": "user", "content": "Thanks\n\n  "},
    ],
    "system_multi_turn": [
        {"role": "system", "content": "You speak French."}, {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Bonjour !"}, {"role": "user", "content": "Ça va ?"},
    ],
    "tool_turns": [
        {"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris, and 2**10?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL, CALC]},
        {"role": "tool", "content": "18 °C, sunny (sample data)"}, {"role": "tool", "content": "1024"},
        {"role": "assistant", "content": "<think>\nBoth known.\n</think>\n\nIt is 18 °C; 2**10 = 1024."},
    ],
    "tool_call_after_query": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL], "reasoning_content": "Need a city."},
        {"role": "tool", "content": "18 °C"},
    ],
    "history_with_thinking": [
        {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "<think>easy</think>2"},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "thinking": "add"},
    ],
    "none_values": [{"role": "user", "content": "Hi", "name": None}],
}


def reference(template, messages, **kwargs):
    return hf_tokenizer().apply_chat_template(messages, chat_template=template, tokenize=False, **kwargs)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_shipped_template_equals_transformers(name, add_generation_prompt):
    template = hf_tokenizer().chat_template
    messages = [m for m in CONVERSATIONS[name] if "tool_calls" not in m and m["role"] != "tool"]
    ours = render(template, messages, add_generation_prompt=add_generation_prompt)
    assert ours == reference(template, messages, add_generation_prompt=add_generation_prompt)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("thinking, tools, prompt", list(itertools.product([None, True, False], [None, TOOLS], [True, False])))
def test_qwen3_template_equals_transformers(name, thinking, tools, prompt):
    messages = CONVERSATIONS[name]
    kwargs = {} if thinking is None else {"enable_thinking": thinking}
    ours = render(QWEN3, messages, add_generation_prompt=prompt, enable_thinking=thinking, tools=tools)
    assert ours == reference(QWEN3, messages, add_generation_prompt=prompt, tools=tools, **kwargs)


def test_qwen3_think_and_tools_blocks():
    user = [{"role": "user", "content": "Hi"}]
    assert render(QWEN3, user, enable_thinking=False).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert render(QWEN3, user, enable_thinking=True).endswith("<|im_start|>assistant\n<think>\n")
    assert render(QWEN3, user).endswith("<|im_start|>assistant\n")
    with_tools = render(QWEN3, user, tools=TOOLS)
    assert with_tools.startswith("<|im_start|>system\n# Tools")
    assert with_tools.count('"name": "') >= 3 and "<tools>\n" in with_tools and "\n</tools>" in with_tools
    rendered = render(QWEN3, CONVERSATIONS["tool_turns"], add_generation_prompt=False)
    assert "<tool_call>\n<function=calculate>\n<parameter=expression>\n2 ** 10\n</parameter>\n</function>\n</tool_call>" in rendered
    assert "<|im_start|>user\n<tool_response>\n18 °C, sunny (sample data)\n</tool_response>\n<tool_response>\n1024" in rendered


def test_environment_helpers_match_transformers():
    template = (
        "{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m | tojson }}{% endfor %}"
        "{{ {'a': '<é>'} | tojson(indent=2) }}{{ bos_token }}{% set ns = namespace(n=1) %}{% set ns.n = 2 %}"
        "{{ ns.n }}{{ dict(x=1) | tojson }}{% generation %}[gen]{% endgeneration %}{{ strftime_now('%Y') }}"
    )
    messages = [{"role": "user", "content": "<b>é</b>"}, {"role": "user", "content": "never"}]
    ours = render(template, messages, bos_token="<|im_start|>")
    assert ours == reference(template, messages, add_generation_prompt=True)
    assert "never" not in ours and str(datetime.now().year) in ours


def test_raise_exception_and_sandbox():
    with pytest.raises(TemplateError, match="no system"):
        render("{{ raise_exception('no system') }}", [{"role": "user", "content": "x"}])
    with pytest.raises(SecurityError):
        render("{{ messages.append(1) }}", [{"role": "user", "content": "x"}])
    with pytest.raises(SecurityError):
        render("{% set ns = namespace() %}{% set ns._x = 1 %}", [{"role": "user", "content": "x"}])
    with pytest.raises(ValueError):
        render("x", [])


def test_worked_example_in_docstring():
    import doctest

    import core.chat_template

    result = doctest.testmod(core.chat_template)
    assert result.attempted >= 2 and result.failed == 0
