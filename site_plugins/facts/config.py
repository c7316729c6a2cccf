from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class FactsConfig(Config):
    enabled = c.Type(bool, default=True)  # off: placeholders stay as typed
    models_plugin = c.Type(str, default="llmb-models")  # plugin that loaded manifest.json
