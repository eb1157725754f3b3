"""Errors a user can fix: the CLI prints their message as one line and exits with code 2.

Raise a subclass of :class:`OneshotError` (usually :class:`UserInputError`) when the
cause is an input -- a setting, an arch, a file, a dataset -- and say in the message
what is wrong and how to fix it. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class OneshotError(Exception):
    """Base of the errors whose message names the problem and its fix."""


class UserInputError(OneshotError, ValueError):
    """A bad setting, arch string, file or dataset given by the user."""


class UnsatisfiableError(OneshotError, RuntimeError):
    """The settings ask for what this machine or space cannot give (no CUDA, no arch in a FLOPs range)."""
