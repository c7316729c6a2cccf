"""The tools the chat model may call: a registry of small Python functions with JSON-schema
parameters, which the chat template renders into its <tools> block.

    >>> box = default_toolbox()
    >>> [s["function"]["name"] for s in box.schemas]
    ['get_weather', 'calculate', 'get_time']
    >>> box.call("calculate", {"expression": "2 ** 10 / 4"})
    '256'

Everything runs offline and in the browser: the weather is sample data (and says so), the
arithmetic walks a whitelisted syntax tree (never ``eval``), and the clock falls back to a
table of UTC offsets where Pyodide has no time zone database.
"""

import ast
import math
import operator
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from .tool_calls import answer

MAX_EXPRESSION_CHARS = 200  # longer input is not arithmetic a chat needs
MAX_NODES = 60  # syntax-tree nodes in one expression
MAX_EXPONENT = 1000  # |b| in a ** b
MAX_BITS = 4096  # size of any intermediate integer: 2 ** 4096 already has 1,234 digits


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict  # JSON schema of an object: properties, required
    function: Callable[..., str]

    @property
    def schema(self) -> dict:
        """The OpenAI-style tool description that chat templates expect."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


class Toolbox:
    """Tools by name; ``chat.Chat`` reads ``schemas`` and calls ``answer(reply_text)``."""

    def __init__(self, tools):
        self.tools = {tool.name: tool for tool in tools}

    @property
    def schemas(self) -> list:
        return [tool.schema for tool in self.tools.values()]

    def call(self, name: str, arguments: dict) -> str:
        return self.tools[name].function(**arguments)

    def answer(self, text: str) -> list:
        """Tool messages answering every tool call in a model reply ([] when it made none)."""
        return answer(text, self)


# Sample data, not a forecast: the page has no network and must not pretend otherwise.
SAMPLE_WEATHER = {
    "paris": (18, "partly cloudy"), "london": (14, "light rain"), "new york": (22, "sunny"),
    "tokyo": (24, "humid, clear"), "berlin": (16, "overcast"), "sydney": (20, "windy"),
    "cairo": (33, "hot and dry"), "moscow": (5, "snow showers"), "rio de janeiro": (28, "thunderstorms"),
    "mumbai": (31, "monsoon rain"), "san francisco": (17, "fog"), "toronto": (12, "cloudy"),
}


def get_weather(city: str) -> str:
    known = SAMPLE_WEATHER.get(" ".join(str(city).lower().split()))
    if known is None:
        return f"No sample weather for {city!r}. Sample cities: {', '.join(c.title() for c in SAMPLE_WEATHER)}."
    return f"{str(city).strip().title()}: {known[0]} °C, {known[1]} (offline sample data, not a live forecast)"


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {"sqrt": math.sqrt, "abs": abs, "round": round}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _bits(x) -> int:
    return x.bit_length() if isinstance(x, int) else 0


def _evaluate(node):
    """Value of a whitelisted node; anything else is refused by name."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            if abs(right) > MAX_EXPONENT or _bits(left) * abs(right) > MAX_BITS:
                raise ValueError(f"exponent too large (limit {MAX_EXPONENT}, results up to {MAX_BITS} bits)")
        elif isinstance(node.op, ast.Mult) and _bits(left) + _bits(right) > MAX_BITS:
            raise ValueError(f"result too large (limit {MAX_BITS} bits)")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, complex):  # (-8) ** 0.5
            raise ValueError("the result is not a real number")
        return value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and not node.keywords and 1 <= len(node.args) <= (2 if node.func.id == "round" else 1):
        args = [_evaluate(arg) for arg in node.args]
        if len(args) == 2 and (not isinstance(args[1], int) or abs(args[1]) > 100):
            raise ValueError("round() takes at most 100 digits")  # round(5, -10**9) would build 10**10**9
        return _FUNCTIONS[node.func.id](*args)
    raise ValueError(f"not allowed in arithmetic: {ast.dump(node)[:60]}")


def calculate(expression: str) -> str:
    # Models write ^, × and ÷ for powers and products; Python's ^ would be a bitwise xor.
    text = str(expression).replace("^", "**").replace("×", "*").replace("÷", "/").strip()
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    tree = ast.parse(text, mode="eval")
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ValueError(f"expression has more than {MAX_NODES} parts")
    value = _evaluate(tree.body)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.12g}"
    return str(value)


# Standard-time offsets in minutes, for when the time zone database is missing (Pyodide).
FALLBACK_OFFSETS = {
    "UTC": 0, "Europe/London": 0, "Europe/Paris": 60, "Europe/Berlin": 60, "Europe/Madrid": 60,
    "Europe/Rome": 60, "Europe/Moscow": 180, "Africa/Cairo": 120, "Asia/Kolkata": 330, "Asia/Shanghai": 480,
    "Asia/Tokyo": 540, "Australia/Sydney": 600, "America/New_York": -300, "America/Chicago": -360,
    "America/Denver": -420, "America/Los_Angeles": -480, "America/Sao_Paulo": -180,
    "America/Mexico_City": -360, "America/Bogota": -300, "America/Lima": -300, "America/Caracas": -240,
    "America/Argentina/Buenos_Aires": -180, "America/Santiago": -240, "America/Montevideo": -180,
    "America/Asuncion": -180, "America/Manaus": -240, "America/Recife": -180, "America/Belem": -180,
    "America/Phoenix": -420, "America/Vancouver": -480, "Europe/Athens": 120, "Europe/Istanbul": 180,
    "Europe/Zurich": 60, "Europe/Lisbon": 0, "Africa/Nairobi": 180, "Africa/Lagos": 60,
    "Africa/Johannesburg": 120, "Asia/Dubai": 240, "Asia/Singapore": 480, "Asia/Seoul": 540,
    "Asia/Bangkok": 420, "Asia/Hong_Kong": 480, "Pacific/Auckland": 720,
}


def zone_name(text: str) -> str:
    """A zone as a person (or the model) may write it, spelled as IANA spells it: IANA names are
    ASCII with underscores, so accents are dropped and spaces become underscores.

    >>> zone_name(" America/São Paulo ")
    'America/Sao_Paulo'
    >>> zone_name("")
    'UTC'
    """
    folded = unicodedata.normalize("NFKD", str(text).strip())
    return "".join(c for c in folded if not unicodedata.combining(c)).replace(" ", "_") or "UTC"


def get_time(timezone_name: str, now: datetime | None = None) -> str:
    name = zone_name(timezone_name)
    now = now or datetime.now(timezone.utc)
    try:
        from zoneinfo import ZoneInfo  # Pyodide may lack it, and has no tz database: see below

        local, note = now.astimezone(ZoneInfo(name)), ""
    except Exception:  # no tzdata (ZoneInfoNotFoundError) or no zoneinfo: use the table
        if name not in FALLBACK_OFFSETS:
            return f"Unknown time zone {name!r}. Known: {', '.join(FALLBACK_OFFSETS)}."
        local = now.astimezone(timezone(timedelta(minutes=FALLBACK_OFFSETS[name])))
        note = "; standard time from a built-in table, daylight saving not applied"
    return f"{local:%Y-%m-%d %H:%M} in {name} (UTC{local:%z}{note})"


def default_toolbox() -> Toolbox:
    string = {"type": "string"}
    return Toolbox([
        Tool("get_weather", "Current weather in a city (offline sample data).",
             {"type": "object", "properties": {"city": {**string, "description": "City name, e.g. Paris"}},
              "required": ["city"]}, get_weather),
        Tool("calculate", "Evaluate an arithmetic expression with + - * / // % ** and sqrt, abs, round.",
             {"type": "object", "properties": {"expression": {**string, "description": "e.g. (2 + 3) * 4"}},
              "required": ["expression"]}, calculate),
        Tool("get_time", "Current date and time in an IANA time zone.",
             {"type": "object", "properties": {"timezone": {**string, "description": "e.g. Europe/Paris"}},
              "required": ["timezone"]}, lambda timezone: get_time(timezone)),
    ])
