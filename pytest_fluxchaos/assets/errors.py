"""The single exception class raised by the assets builder."""

from __future__ import annotations


class AssetError(Exception):
    """An asset could not be built or found.

    The message is always a single line that says what failed and what to do
    about it (install Go, start Docker, free disk space, ...).
    """

    def __init__(self, message: str) -> None:
        # Keep the message on one line whatever the caller passed in.
        super().__init__(" ".join(str(message).split()))
