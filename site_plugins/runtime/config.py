from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class RuntimeConfig(Config):
    enabled = c.Type(bool, default=True)  # turn the plugin off without removing it
    node_modules = c.Type(str, default="node_modules")  # where `npm ci` put pyodide and onnxruntime-web, relative to mkdocs.yml
    dest = c.Type(str, default="runtime")  # site folder that receives everything below
    packages = c.Type(list, default=["core", "widgets"])  # the pure-Python packages Pyodide imports, relative to mkdocs.yml
    python_deps = c.Type(list, default=["jinja2", "markupsafe"])  # pure-Python packages bundled with it
    coi_serviceworker = c.Type(bool, default=True)  # ship coi-serviceworker so static hosts get cross-origin isolation
