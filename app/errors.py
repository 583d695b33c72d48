"""Errors a user can act on. Their text is shown as is (CLI: one line on stderr; app: a message)."""


class KuaError(Exception):
    """Bad input or an environment problem, explained in the user's terms."""


class NotFound(KuaError):
    pass


class InvalidInput(KuaError):
    pass
