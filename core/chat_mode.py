"""Which model answers a chat, with which template: the one place that turns the Think and Tools
toggles into a configuration, shared by the live chat, the terminal chat and the evaluation.

An artifact exported with a post-training adapter holds two models in one graph: with the
adapter's switch at 0 it computes exactly the original checkpoint, at 1 the post-trained one.
The chat answers with the original model, its own template and that template's default system
prompt whenever neither new convention is asked for, so everyday questions get the checkpoint's
own answers; Think or Tools switch the adapter on, with the think/tools template it was trained
on and the system message of its training conversations.

    >>> m = mode_for({"model": {"name": "M", "parameters": 100}, "chat_template": {"text": "T"}})
    >>> m.adapter_scale, m.template, m.enable_thinking, m.tools, m.who
    (0.0, 'T', None, False, 'M')
"""

from __future__ import annotations

from dataclasses import dataclass

from .chat import Chat
from .generation import GenerationConfig
from .sampling import SamplingConfig
from .tool_calls import MAX_TOOL_ROUNDS

# The live chat's settings before a reader touches them (the terminal chat and the evaluation
# start from the same). Temperature 0 is greedy.
DEFAULT_SETTINGS = {"temperature": 0.6, "top_p": 0.9, "repetition_penalty": 1.1, "max_new_tokens": 256}


@dataclass(frozen=True)
class ChatMode:
    adapter_scale: float  # 0: the original model; 1: with the post-training adapter
    template: str  # the Jinja source the conversation is rendered with
    system: str | None  # the system message sent (None: whatever the template does without one)
    enable_thinking: bool | None  # None for a template that has no thinking switch
    tools: bool  # offer the toolbox
    who: str  # which model answers, in words for the reader


def generation_config(settings: dict, seed: int | None = None) -> GenerationConfig:
    """The sampling of a chat's settings (``DEFAULT_SETTINGS`` keys); temperature 0 is greedy."""
    return GenerationConfig(
        max_new_tokens=int(settings["max_new_tokens"]),
        sampling=SamplingConfig(temperature=float(settings["temperature"]), top_p=float(settings["top_p"]),
                                repetition_penalty=float(settings["repetition_penalty"]), seed=seed),
    )


def _raw(manifest) -> dict:
    return manifest.raw if hasattr(manifest, "raw") else manifest


def adapter_words(manifest) -> str:
    """'the think/tools adapter (5.0 MB, 2.4 million parameters, 1.8% of the weights)', or '' for
    a model exported without one."""
    d = _raw(manifest)
    post = d.get("posttrain")
    if not post:
        return ""
    share = 100 * post.get("parameters", 0) / max(d["model"].get("parameters", 0), 1)
    return (f"the post-training adapter ({post.get('bytes', 0) / 1e6:.1f} MB, "
            f"{post.get('parameters', 0) / 1e6:.1f} million parameters, {share:.1f}% of the weights)")


def mode_for(manifest, think: bool = False, tools: bool = False, system: str | None = None) -> ChatMode:
    """The configuration for these toggles. ``manifest`` is the parsed manifest.json (a dict) or
    its typed ``Manifest``; ``system`` overrides the system message in every mode."""
    d = _raw(manifest)
    name = d["model"]["name"]
    template = d["chat_template"]
    features = template.get("features", {})
    post = d.get("posttrain")
    if post and not (think or tools):
        return ChatMode(0.0, post["original_chat_template"]["text"], system, None, False, f"the original {name}")
    thinking = bool(think) if features.get("think") else None
    use_tools = bool(tools) and bool(features.get("tools"))
    if post:
        return ChatMode(1.0, template["text"], system if system is not None else post.get("system"), thinking,
                        use_tools, f"{name} with {adapter_words(d)}")
    return ChatMode(0.0, template["text"], system, thinking, use_tools, name)


def open_chat(mode: ChatMode, generator, tokenizer, toolbox=None) -> tuple[Chat, bool]:
    """A Chat on ``generator`` (whose backend keeps one cache per model) configured by ``mode``,
    and whether switching the adapter emptied the cache. ``toolbox``: what runs the model's tool
    calls when the mode offers tools (core.tools.default_toolbox for the live chat)."""
    reset = generator.backend.set_adapter_scale(mode.adapter_scale)
    if reset:
        generator.cached = []
    chat = Chat(generator, tokenizer, mode.template, system=mode.system,
                tools=toolbox if mode.tools else None, enable_thinking=mode.enable_thinking,
                max_tool_rounds=MAX_TOOL_ROUNDS)
    return chat, reset
