class ExportError(Exception):
    """A problem with the input or the run, reported to the user as one line."""
