"""MkDocs plugins that turn the chapter, its widgets and the exported model into a static site."""
