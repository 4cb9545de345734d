"""The root command group: Click's usage errors (an unknown choice, a malformed number) become one
line on stderr naming the flag, exit code 2, however the app is invoked (console script, ``python
-m specdiag``, or a test runner)."""

from __future__ import annotations

import sys

from typer.core import TyperGroup

__all__ = ["OneLineErrorGroup"]


def _is_click_error(exc: BaseException) -> bool:
    return hasattr(exc, "format_message") and hasattr(exc, "exit_code") and hasattr(exc, "show")


class OneLineErrorGroup(TyperGroup):
    """A Typer group whose usage errors print as ``error: <message> (see `<command> --help`)``."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:
            if not _is_click_error(exc):
                raise
            from .output import usage_error  # noqa: PLC0415 (output imports rich; this module stays light)

            sys.exit(usage_error(exc))
        sys.exit(code if isinstance(code, int) else 0)
