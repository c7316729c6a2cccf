"""Build the site, then serve site/ at http://127.0.0.1:8000 with the headers that make pages
cross-origin isolated (COOP/COEP), so onnxruntime-web can use WASM threads.

    python -m site_plugins.serve              # build with mkdocs.yml, then serve
    python -m site_plugins.serve --no-build   # serve what is in site/
"""

from __future__ import annotations

import argparse
import functools
import http.server
import mimetypes
import sys
from pathlib import Path

HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".onnx": "application/octet-stream", ".json": "application/json"}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self):
        for name, value in HEADERS.items():
            self.send_header(name, value)
        # Pages and the runtime glue change with every build; the big files are named by content
        # or checked by sha256 in the page, so revalidating is always right and cheap.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    verbose = True


def build(config_file: str) -> Path:
    # MkDocs loads only when there is a site to build (--no-build serves one as it is)
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    config = load_config(config_file)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        mkdocs_build(config)
    finally:
        config.plugins.on_shutdown()
    return Path(config.site_dir)


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000, verbose: bool = True) -> Server:
    server = Server((host, port), functools.partial(Handler, directory=str(site)))
    server.verbose = verbose
    return server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m site_plugins.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--config-file", default="mkdocs.yml")
    parser.add_argument("--site-dir", default=None, help="serve this folder (default: the config's site_dir)")
    parser.add_argument("--no-build", action="store_true", help="serve the existing build")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)
    mimetypes.add_type("text/javascript", ".mjs")
    site = Path(args.site_dir) if args.site_dir else None
    if not args.no_build:
        from mkdocs.exceptions import MkDocsException  # as in build(): only when building

        try:
            built = build(args.config_file)
        except MkDocsException as e:
            print(f"serve: build failed: {e}", file=sys.stderr)
            return 1
        site = site or built
    site = site or Path("site")
    server = make_server(site, args.host, args.port, not args.quiet)
    print(f"serve: http://{args.host}:{server.server_address[1]}/ (cross-origin isolated), Ctrl+C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
