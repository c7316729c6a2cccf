"""Debian's chromium through Playwright, the one way it runs here and in CI: headless, offline, a
fresh profile each time, against the built site served locally with COOP/COEP. The browser tests
(tests/browser/) and the benchmarks (bench/) all start it from here.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

EXECUTABLE = "/usr/bin/chromium"  # Debian's package; Playwright's own browsers are never installed
ARGS = ["--headless", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# WebGPU exists here only as SwiftShader's adapter: right for correctness, far too slow for speed.
WEBGPU_ARGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader",
               "--use-webgpu-adapter=swiftshader"]


def launch(playwright, extra=(), profile: str | Path | None = None, **options):
    """A persistent context on a fresh profile (``profile``, or a new temporary folder): empty
    cache and Cache API. Service workers are blocked unless ``options`` says otherwise, so a
    route sees every request."""
    profile = profile or tempfile.mkdtemp(prefix="llmb-chromium-")
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=EXECUTABLE, headless=True, args=ARGS + list(extra),
        **{"service_workers": "block", "viewport": {"width": 1100, "height": 900}, **options})


def launch_browser(playwright, extra=()):
    """A browser for tests that open several contexts of their own (palettes, screen sizes)."""
    return playwright.chromium.launch(executable_path=EXECUTABLE, args=ARGS + list(extra))


class Server:
    """``site`` served at ``url`` with COOP/COEP (site_plugins.serve) on a free port until
    ``close``. The folder may be built after the server starts, for a site that must know its
    own address."""

    def __init__(self, site: Path):
        from site_plugins.serve import make_server

        self.server = make_server(site, port=0, verbose=False)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self):
        self.server.shutdown()


class Watch:
    """Every request of a browser context goes through ``route``: off-origin ones are recorded and
    refused; console errors and page errors of the pages it opens are recorded."""

    def __init__(self, context, base_url: str):
        self.base, self.foreign, self.errors, self.requests = base_url, [], [], []
        context.route("**/*", self.route)

    def route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith(self.base) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def page(self, context):
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def model_requests(self, manifest, runtime="wasm"):
        """Requests for the file that carries the weights ``runtime`` loads (WebGPU model.onnx;
        WASM the CPU file's data file where there is one)."""
        from core.manifest import Manifest
        name = Manifest.from_dict(manifest).onnx.file_for(runtime).downloads[-1].file
        return [u for u in self.requests if u.endswith("/" + name)]
