from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class GlossaryConfig(Config):
    enabled = c.Type(bool, default=True)  # off: abbreviations stay hover-only
