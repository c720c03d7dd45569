"""The ``drsn-edge`` command: one sub-command per stage of the pipeline.

Every user-fixable problem surfaces as one ``error: ...`` line and exit code 2;
tracebacks are reserved for bugs. The core's commands (``train``,
``evaluate``) live here; each later stage adds its own (``quantize.cli``,
``firmware_export.cli``) through the ``drsn_edge.commands`` entry-point group:
a module with ``add_parsers(subparsers)`` and an ``ORDER`` for the help list.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points
from types import ModuleType
from typing import Callable

from drsn_edge.cli.args import attach_negative_values
from drsn_edge.errors import DrsnError

EXIT_USER_ERROR = 2
ENTRY_POINT_GROUP = "drsn_edge.commands"


def command_modules() -> list[ModuleType]:
    """The core's commands and every installed stage's, in help order."""
    from drsn_edge.cli import training

    modules = [training] + [importlib.import_module(point.value) for point in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(modules, key=lambda module: getattr(module, "ORDER", 100))


def build_parser() -> argparse.ArgumentParser:
    from drsn_edge import __version__

    parser = argparse.ArgumentParser(prog="drsn-edge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"drsn-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        module.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except DrsnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
