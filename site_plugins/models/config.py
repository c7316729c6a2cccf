from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class ModelsConfig(Config):
    enabled = c.Type(bool, default=True)  # turn the plugin off without removing it
    artifact = c.Type(str, default="artifacts/smollm2-135m-instruct-q4-smollm2-think-tools")  # folder export.build() wrote, relative to mkdocs.yml
    dest = c.Type(str, default="models")  # site folder that receives models/<slug>/
    verify = c.Type(bool, default=True)  # check every sha256 in manifest.json before copying
