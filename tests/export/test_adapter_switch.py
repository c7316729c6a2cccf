"""The adapter as a runtime switch, on the site's real artifact: with the switch at 0 the graph is
exactly the plain export (greedy ids identical through the chat loop on the parity conversations),
at 1 it is the post-trained model; and the chat with both toggles off answers as the original."""

import asyncio
import json

import pytest

from test_generation_parity import CONVERSATIONS
from core.backend_native import NativeBackend
from core.chat import Chat
from core.chat_mode import mode_for, open_chat
from core.generation import GenerationConfig, Generator
from core.manifest import Manifest
from core.sampling import GREEDY
from core.tokenizer import Tokenizer
from core.tools import default_toolbox

MAX_NEW = 32


def replies(folder, scale, runtime="webgpu"):
    """Greedy ids of every turn of the parity conversations, through Chat -> Generator, with the
    adapter at ``scale``, the original model's template, on the file ``runtime`` loads."""
    manifest = Manifest.load(folder)
    post = manifest.posttrain
    template = post.original_chat_template.text if post else manifest.chat_template.text
    tokenizer = Tokenizer.from_file(folder / manifest.tokenizer.file)
    backend = NativeBackend.from_artifact(folder, runtime=runtime)
    backend.set_adapter_scale(scale)
    generator = Generator(backend, tokenizer.id_to_bytes, manifest.tokenizer.stop_ids)

    async def run():
        out = []
        for system, turns in CONVERSATIONS:
            chat = Chat(generator, tokenizer, template, system=system)
            for text in turns:
                out.append((await chat.send(text, GenerationConfig(MAX_NEW, GREEDY))).rounds[-1].ids)
        return out
    return asyncio.run(run())


@pytest.mark.parametrize("runtime", ["webgpu", "wasm"])
def test_switch_at_zero_is_the_plain_export_token_for_token(default_artifact, site_artifact, runtime):
    """On both files: model.onnx (WebGPU) and the CPU file (WASM), whose smoothing comes from the
    original weights, so that the adapter's branch is all that differs."""
    site = Manifest.load(site_artifact)
    assert site.onnx.adapter_scale == "adapter_scale" and Manifest.load(default_artifact).onnx.adapter_scale is None
    assert site.onnx.file_for(runtime).file == ("model.onnx" if runtime == "webgpu" else "model.cpu.onnx")
    plain = replies(default_artifact, 0.0, runtime)
    assert replies(site_artifact, 0.0, runtime) == plain
    # switched on, the same graph is the post-trained model, which answers differently somewhere
    adapted = replies(site_artifact, 1.0, runtime)
    assert adapted != plain and sum(a == b for a, b in zip(adapted, plain)) < len(plain)


def test_the_default_chat_is_the_original_model(default_artifact, site_artifact):
    """Toggles off: the original template (with its default system prompt) and the adapter off,
    so the site's chat answers exactly as the plain export under its own template."""
    site = Manifest.load(site_artifact)
    mode = mode_for(site)
    assert mode.adapter_scale == 0.0 and mode.template == json.loads(
        (default_artifact / "manifest.json").read_text())["chat_template"]["text"]
    tokenizer = Tokenizer.from_file(site_artifact / site.tokenizer.file)

    def ask(folder, manifest):
        generator = Generator(NativeBackend.from_artifact(folder), tokenizer.id_to_bytes, manifest.tokenizer.stop_ids)
        chat, _ = open_chat(mode_for(manifest), generator, tokenizer, default_toolbox())
        return asyncio.run(chat.send("What is the capital of France?", GenerationConfig(48, GREEDY))).text

    original = ask(default_artifact, Manifest.load(default_artifact))
    assert ask(site_artifact, site) == original
    assert "Paris" in original
