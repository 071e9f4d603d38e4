"""Errors of the in-guest provisioning library."""

from __future__ import annotations

from vmpersona.errors import DomainError


class GuestStepError(DomainError):
    """A provisioning step failed in the guest. ``pointer`` is the JSON pointer of the
    VPPD element that failed (``"/application_manifest/1/install"``); the message is for
    the user and carries the command's exit code and the tail of its error output."""

    def __init__(self, message: str, *, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer

    def __str__(self) -> str:
        return self.message


class GuestCancelled(GuestStepError):
    """The job was cancelled; raised between two items."""

    def __init__(self, message: str = "cancelled", *, pointer: str = "") -> None:
        super().__init__(message, pointer=pointer)
