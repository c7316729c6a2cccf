from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class FencesConfig(Config):
    enabled = c.Type(bool, default=True)  # off: fences render as an empty placeholder with a note
    package = c.Type(str, default="widgets")  # Python package holding one module per widget name
    models_plugin = c.Type(str, default="llmb-models")  # plugin whose artifact makes the widgets' build context
