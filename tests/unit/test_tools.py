"""core.tools and core.tool_calls: the registry, the three tools, the call parser, and
the rule that nothing the model writes can raise out of a chat turn."""

import sys
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import tool_calls, tools
from core.tool_calls import MAX_CALLS_PER_REPLY, MAX_TOOL_ROUNDS, parse_tool_calls, run_tool_call
from core.tools import calculate, default_toolbox, get_time, get_weather

BOX = default_toolbox()
NOON = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def xml(name, **params):
    inner = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
    return f"<tool_call>\n<function={name}>\n{inner}</function>\n</tool_call>"


def test_registry_schemas():
    names = [s["function"]["name"] for s in BOX.schemas]
    assert names == ["get_weather", "calculate", "get_time"]
    for schema in BOX.schemas:
        assert schema["type"] == "function"
        params = schema["function"]["parameters"]
        assert params["type"] == "object" and set(params["required"]) <= set(params["properties"])
        assert schema["function"]["description"]


@pytest.mark.parametrize("expression, expected", [
    ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("2 ** 10", "1024"), ("2^10", "1024"), ("7 / 2", "3.5"),
    ("7 // 2", "3"), ("-7 % 3", "2"), ("sqrt(16)", "4"), ("abs(-3.5)", "3.5"), ("round(2.567, 2)", "2.57"),
    ("pi", "3.14159265359"), ("6 × 7 ÷ 2", "21"), ("10 ** 20", "100000000000000000000"), ("0.1 + 0.2", "0.3"),
])
def test_calculate(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize("expression", [
    "__import__('os').system('ls')", "open('x')", "x", "[1, 2]", "'a' * 3", "2 ** 100000", "9 ** 9 ** 9",
    "(2 ** 1000) ** 5", "1" * 201, "+".join(["1"] * 40), "(-8) ** 0.5", "round(5, -10 ** 9)", "True + 1",
    "(lambda: 1)()", "a.b", "1 if 1 else 2", "sqrt(4, 2)",
])
def test_calculate_refuses(expression):
    with pytest.raises((ValueError, SyntaxError)):
        calculate(expression)


def test_calculate_never_evals(monkeypatch):
    import builtins

    def refuse(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert calculate("3 * (4 + 5)") == "27"


def test_weather_is_labelled_sample_data():
    assert "sample data" in get_weather("paris") and "18 °C" in get_weather("  Paris ")
    assert "No sample weather" in get_weather("Atlantis")


def has_tz_database() -> bool:
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo("Europe/Paris")
        return True
    except Exception:  # Pyodide's core ships zoneinfo without tzdata
        return False


def test_time_with_zoneinfo_and_fallback(monkeypatch):
    # A winter date: the database and the fallback table agree, so this holds in CPython and Pyodide.
    assert get_time("Europe/Paris", NOON).startswith("2026-01-15 13:00 in Europe/Paris (UTC+0100")
    assert get_time("America/New_York", NOON).startswith("2026-01-15 07:00")
    summer = get_time("Europe/Paris", NOON.replace(month=7))
    if has_tz_database():  # only the database knows daylight saving time
        assert summer == "2026-07-15 14:00 in Europe/Paris (UTC+0200)"
    else:
        assert summer.startswith("2026-07-15 13:00 in Europe/Paris (UTC+0100") and "table" in summer
    assert "Unknown time zone" in get_time("Mars/Olympus", NOON)
    monkeypatch.setitem(sys.modules, "zoneinfo", None)  # as in a Pyodide without tzdata
    fallback = get_time("Asia/Tokyo", NOON)
    assert fallback.startswith("2026-01-15 21:00 in Asia/Tokyo (UTC+0900") and "table" in fallback
    assert "Unknown time zone" in get_time("Nowhere/City", NOON)


def test_a_zone_written_with_accents_or_spaces_is_the_iana_zone(monkeypatch):
    # "What time is it in São Paulo?" -> the model copies the accent into the zone name
    want = get_time("America/Sao_Paulo", NOON)
    assert want.startswith("2026-01-15 09:00 in America/Sao_Paulo (UTC-0300")
    assert get_time("America/São_Paulo", NOON) == get_time(" America/São Paulo ", NOON) == want
    monkeypatch.setitem(sys.modules, "zoneinfo", None)  # the fallback table reads the same spelling
    assert get_time("America/Belém", NOON).startswith("2026-01-15 09:00 in America/Belem (UTC-0300")
    assert "Unknown time zone 'America/Sao'" in get_time("America/São", NOON)


def test_xml_and_json_forms_parse_the_same():
    json_form = '<tool_call>{"name": "get_weather", "arguments": {"city": "Tokyo"}}</tool_call>'
    compact_xml = "<tool_call><function=get_weather><parameter=city>Tokyo</parameter></function></tool_call>"
    for text in [xml("get_weather", city="Tokyo"), json_form, compact_xml]:
        assert parse_tool_calls(text) == [tool_calls.ToolCall("get_weather", {"city": "Tokyo"})]
        assert run_tool_call(text, BOX).content.startswith("Tokyo: 24 °C")
    multi = xml("calculate", expression="1+1") + "\n" + xml("get_weather", city="Paris")
    assert [c.name for c in parse_tool_calls(multi)] == ["calculate", "get_weather"]
    assert parse_tool_calls("no call here") == []
    assert xml("calculate", expression="2 ** 3") in tools_rendered_example()


def tools_rendered_example():
    from core.chat_template import load, render

    call = {"type": "function", "function": {"name": "calculate", "arguments": {"expression": "2 ** 3"}}}
    return render(load("qwen3_tools.jinja"), [{"role": "user", "content": "?"},
                                              {"role": "assistant", "content": "", "tool_calls": [call]}])


@pytest.mark.parametrize("text, error", [
    ("<tool_call>{bad json</tool_call>", "malformed tool call: invalid JSON"),
    ('<tool_call>{"arguments": {}}</tool_call>', "malformed tool call"),
    ("<tool_call>get_weather(Paris)</tool_call>", "malformed tool call"),
    ("<tool_call><function=get_weather>Paris</function></tool_call>", "text outside"),
    (xml("fly", to="Mars"), "unknown tool 'fly'"),
    (xml("get_weather"), "missing required parameter 'city'"),
    (xml("get_weather", city="Paris", unit="C"), "unknown parameter 'unit'"),
    ('<tool_call>{"name": "get_weather", "arguments": {"city": ["a"]}}</tool_call>', "should be a string"),
    (xml("calculate", expression="1/0"), "calculate failed: division by zero"),
    (xml("calculate", expression="import os"), "calculate failed"),
    ("<tool_call><function=calculate><parameter=expression>1+", "malformed tool call"),
])
def test_bad_calls_become_error_results(text, error):
    result = run_tool_call(text, BOX)
    assert not result.ok and result.content.startswith("Error: ") and error in result.content


def test_argument_types_follow_the_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "flag": {"type": "boolean"},
                                               "unit": {"type": "string", "enum": ["C", "F"]}}, "required": ["n"]}
    assert tool_calls.check_arguments(schema, {"n": "3", "flag": "true", "unit": "C"}) == {"n": 3, "flag": True, "unit": "C"}
    for bad in [{"n": "three"}, {"n": True}, {"n": 1, "unit": "K"}, {"n": 1.5}]:
        with pytest.raises(tool_calls.ToolCallError):
            tool_calls.check_arguments(schema, bad)


def test_answer_messages_and_limits():
    reply = "Checking." + "".join(xml("calculate", expression=f"{i}+1") for i in range(MAX_CALLS_PER_REPLY + 1))
    messages = BOX.answer(reply)
    assert [m["content"] for m in messages[:2]] == ["1", "2"] and all(m["role"] == "tool" for m in messages)
    assert "at most" in messages[-1]["content"]
    assert BOX.answer("Just text.") == []
    assert 1 <= MAX_TOOL_ROUNDS <= 5


def test_both_call_forms_run_on_the_default_toolbox():
    assert run_tool_call(xml("calculate", expression="6*7"), default_toolbox()).content == "42"
    assert run_tool_call('{"name": "calculate", "arguments": {"expression": "6*7"}}', default_toolbox()).content == "42"


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=80),
    st.builds(lambda a, b, c: f"<tool_call>{a}<function={b}>{c}</function></tool_call>",
              st.text(max_size=10), st.sampled_from(["calculate", "get_weather", "get_time", "x"]), st.text(max_size=40)),
    st.builds(lambda e: xml("calculate", expression=e), st.text(st.sampled_from(list("0123456789+-*/%().^ e")), max_size=30)),
))
def test_nothing_the_model_writes_raises(text):
    for message in BOX.answer(text + "<tool_call>" + text):
        assert isinstance(message["content"], str)
    assert isinstance(run_tool_call(text, BOX), tool_calls.ToolResult)


def test_tools_are_stdlib_only_and_import_each_other_one_way():
    def imported(module):
        return {line.split()[1] for line in open(module.__file__) if line.startswith(("import ", "from "))}
    assert imported(tools) == {"ast", "math", "operator", "dataclasses", "datetime", "typing", "unicodedata", ".tool_calls"}
    assert imported(tool_calls) <= {"json", "re", "dataclasses", "__future__"}


def test_worked_examples_in_docstrings():
    import doctest

    for module in (tools, tool_calls):
        assert doctest.testmod(module).failed == 0
