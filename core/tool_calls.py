"""Read the tool calls in a model's reply, check them against the tool schemas, and run them.

Two forms are understood, inside ``<tool_call>...</tool_call>``: the XML-ish one our template
teaches, ``<function=NAME><parameter=NAME>VALUE</parameter></function>``, and the JSON one,
``{"name": ..., "arguments": {...}}``. The model's text is untrusted: a malformed call, an
unknown tool or bad arguments become an error string that is fed back to the model, so it can
try again, and never an exception that ends the chat.

    >>> from core.tools import default_toolbox
    >>> run_tool_call('<tool_call>{"name": "calculate", "arguments": {"expression": "6*7"}}</tool_call>',
    ...               default_toolbox())
    ToolResult(name='calculate', arguments={'expression': '6*7'}, content='42', ok=True)
    >>> run_tool_call("<tool_call><function=fly></function></tool_call>", default_toolbox()).content[:26]
    "Error: unknown tool 'fly'."
"""

import json
import re
from dataclasses import dataclass, field

MAX_TOOL_ROUNDS = 3  # model calls after the first, per user turn, that may follow tool results
MAX_CALLS_PER_REPLY = 4  # calls run from one reply; the rest get an error result

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.S)
_FUNCTION = re.compile(r"\s*<function=([^>\n]+)>(.*?)</function>\s*\Z", re.S)
_PARAMETER = re.compile(r"<parameter=([^>\n]+)>(.*?)</parameter>", re.S)
_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


@dataclass
class ToolCall:
    name: str
    arguments: dict = field(default_factory=dict)


@dataclass
class ToolResult:
    name: str  # the tool asked for ("" when the call could not be read)
    arguments: dict
    content: str  # what the model reads back
    ok: bool


class ToolCallError(ValueError):
    """A call that cannot run; its message is what the model reads."""


def parse_block(body: str) -> ToolCall:
    """One call from the text between <tool_call> and </tool_call>."""
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ToolCallError(f"malformed tool call: invalid JSON ({e.msg} at character {e.pos})") from None
        arguments = data.get("arguments", data.get("parameters", {})) if isinstance(data, dict) else None
        if isinstance(arguments, str):  # OpenAI style: arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                arguments = None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(arguments, dict):
            raise ToolCallError('malformed tool call: expected {"name": "...", "arguments": {...}}')
        return ToolCall(data["name"].strip(), arguments)
    match = _FUNCTION.match(text)
    if not match:
        raise ToolCallError("malformed tool call: expected <function=NAME><parameter=NAME>VALUE</parameter></function>")
    inner = match.group(2)
    arguments = {}
    for name, value in _PARAMETER.findall(inner):
        # The template writes each value between newlines; strip exactly those.
        arguments[name.strip()] = value[value.startswith("\n"):len(value) - value.endswith("\n")]
    if _PARAMETER.sub("", inner).strip():
        raise ToolCallError("malformed tool call: text outside <parameter=NAME>...</parameter>")
    return ToolCall(match.group(1).strip(), arguments)


def parse_tool_calls(text: str) -> list:
    """Every call in a reply, in order: a ToolCall, or a ToolCallError for a block that is not one."""
    calls = []
    for body in _BLOCK.findall(text):
        try:
            calls.append(parse_block(body))
        except ToolCallError as e:
            calls.append(e)
    return calls


def check_arguments(schema: dict, arguments: dict) -> dict:
    """Arguments that fit the JSON schema, converting the XML form's strings where the schema
    wants another type ("3" for an integer). Raises ToolCallError naming the problem."""
    properties, required = schema.get("properties", {}), schema.get("required", [])
    unknown = sorted(set(arguments) - set(properties))
    if unknown:
        raise ToolCallError(f"unknown parameter {unknown[0]!r}; parameters are: {', '.join(properties)}")
    missing = [name for name in required if name not in arguments]
    if missing:
        raise ToolCallError(f"missing required parameter {missing[0]!r}")
    checked = {}
    for name, value in arguments.items():
        kind = properties[name].get("type", "string")
        if isinstance(value, str) and kind != "string":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        elif kind == "string" and type(value) in (int, float):  # {"expression": 42} means "42"
            value = str(value)
        ok = isinstance(value, _TYPES.get(kind, object))
        if not ok or (isinstance(value, bool) and kind in ("integer", "number")):
            raise ToolCallError(f"parameter {name!r} should be a {kind}, got {json.dumps(value)[:40]}")
        if "enum" in properties[name] and value not in properties[name]["enum"]:
            raise ToolCallError(f"parameter {name!r} must be one of {properties[name]['enum']}")
        checked[name] = value
    return checked


def run(call, toolbox) -> ToolResult:
    """Run one parsed call (or report its parse error)."""
    if isinstance(call, ToolCallError):
        return ToolResult("", {}, f"Error: {call}", False)
    tool = toolbox.tools.get(call.name)
    if tool is None:
        names = ", ".join(toolbox.tools)
        return ToolResult(call.name, call.arguments, f"Error: unknown tool {call.name!r}. Available tools: {names}.", False)
    try:
        arguments = check_arguments(tool.parameters, call.arguments)
    except ToolCallError as e:
        return ToolResult(call.name, call.arguments, f"Error: bad arguments for {call.name}: {e}", False)
    try:
        return ToolResult(call.name, arguments, str(tool.function(**arguments)), True)
    except Exception as e:  # a tool's own failure (1/0, overflow) is a result, not the chat's end
        return ToolResult(call.name, arguments, f"Error: {call.name} failed: {e}", False)


def run_tool_call(text: str, toolbox) -> ToolResult:
    """Run the first call in `text` (a whole reply, or one block's inner text) with the tools of
    ``toolbox`` (``core.tools.Toolbox``, which imports this module, not the other way round)."""
    calls = parse_tool_calls(text) if "<tool_call>" in text else [_try(parse_block, text)]
    return run(calls[0] if calls else ToolCallError("no tool call found"), toolbox)


def _try(parse, text):
    try:
        return parse(text)
    except ToolCallError as e:
        return e


def answer(text: str, toolbox) -> list:
    """Tool messages for the chat, one per call in the reply ([] when there is none)."""
    messages = []
    for i, call in enumerate(parse_tool_calls(text)):
        if i < MAX_CALLS_PER_REPLY:
            result = run(call, toolbox)
        else:
            result = ToolResult("", {}, f"Error: at most {MAX_CALLS_PER_REPLY} tool calls per reply.", False)
        messages.append({"role": "tool", "name": result.name, "content": result.content})
    return messages
