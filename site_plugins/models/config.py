from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class ModelsConfig(Config):
    enabled = c.Type(bool, default=True)  # turn the plugin off without removing it
    artifact = c.Optional(c.Type(str))  # folder export.build() wrote, relative to mkdocs.yml; default: the site's model (export/site_model.py)
    dest = c.Type(str, default="models")  # site folder that receives models/<slug>/
    verify = c.Type(bool, default=True)  # check every sha256 in manifest.json before copying
