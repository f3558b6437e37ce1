"""The `assay` command: one module per command group, all thin faces over the library."""

from __future__ import annotations

import sys

from assay.cli._app import app, err_console

# Each module registers its commands on `app` when imported.
from assay.cli import core as _core  # noqa: E402,F401
from assay.cli import data as _data  # noqa: E402,F401
from assay.cli import rubric as _rubric  # noqa: E402,F401
from assay.cli import generate as _generate  # noqa: E402,F401
from assay.cli import serve as _serve  # noqa: E402,F401
from assay.cli import campaign as _campaign  # noqa: E402,F401
from assay.cli import users as _users  # noqa: E402,F401
from assay.cli import judge as _judge  # noqa: E402,F401
from assay.cli import agreement as _agreement  # noqa: E402,F401
from assay.cli import rank as _rank  # noqa: E402,F401
from assay.cli import abtest as _abtest  # noqa: E402,F401
from assay.cli import calibration as _calibration  # noqa: E402,F401
from assay.cli import report as _report  # noqa: E402,F401
from assay.cli import redteam as _redteam  # noqa: E402,F401
from assay.cli import library as _library  # noqa: E402,F401
from assay.cli import curate as _curate  # noqa: E402,F401
from assay.cli import cache as _cache  # noqa: E402,F401
from assay.cli import gate as _gate  # noqa: E402,F401
from assay.cli import why as _why  # noqa: E402,F401
from assay.cli import slices as _slices  # noqa: E402,F401
from assay.cli import profile as _profile  # noqa: E402,F401


_built: tuple[tuple[int, ...], object] | None = None


def _command():  # noqa: ANN202 - a click Group (typer's vendored click or click itself)
    """The click command behind ``app``, built once per set of registered commands.

    Typer builds it anew on every call, which costs more than most commands' own work in
    a process (tests, notebooks) that runs several.
    """
    global _built
    import typer.main

    key = tuple(map(id, [*app.registered_commands, *app.registered_groups]))
    if _built is None or _built[0] != key:
        _built = (key, typer.main.get_command(app))
    return _built[1]


TWO_WORDS = {("judge", "tune"): "judge-tune", ("judge", "calibrate"): "judge-calibrate"}
"""Commands also spelled as two words (``assay judge tune`` is ``assay judge-tune``)."""


def _two_words(argv: list[str]) -> list[str]:
    """``argv`` with a two-word spelling of a command (:data:`TWO_WORDS`) joined; global options may come first."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] == "--db" else 1  # --db takes a value; the other global options do not
    if i + 1 < len(argv) and (argv[i], argv[i + 1]) in TWO_WORDS:
        return [*argv[:i], TWO_WORDS[(argv[i], argv[i + 1])], *argv[i + 2:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app; whatever goes wrong is one line on stderr and an exit code.

    2 for a mistake the user can fix (usage, input, a missing extra, a store that cannot be
    opened), 1 for other failures, 130 when interrupted. ``ASSAY_DEBUG=1`` shows the
    traceback of unexpected errors.
    """
    from assay.cli._boundary import INTERRUPTED, exit_code

    try:
        args = _two_words(list(sys.argv[1:] if argv is None else argv))
        code = _command().main(args=args, prog_name="assay", standalone_mode=False)
    except BaseException as e:  # noqa: BLE001 - the boundary: every exception becomes a line and a code
        return exit_code(e, err_console)
    if code == 130:  # typer turns Ctrl-C into Exit(130), returned as a code when not standalone
        err_console.print(INTERRUPTED, highlight=False, markup=False)
    return code if isinstance(code, int) else 0  # typer.Exit(n) comes back as its code when not standalone


def console_main() -> None:
    """The ``assay`` command: ``main`` with its code as the process's exit status."""
    sys.exit(main())


_console_main = console_main  # the name installed console scripts of earlier versions call
