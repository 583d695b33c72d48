"""Errors a user can act on, raised by the export layer (which cannot import app.errors).

app/ turns them into KuaError; their text is shown as is.
"""


class ExportError(Exception):
    """Bad input (a key, a password, a path) explained in the user's terms."""
