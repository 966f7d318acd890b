"""The one exception CLI verbs raise to end with a sentence on stderr and an exit code."""


class CliError(Exception):
    """An error to show as one sentence on stderr, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
