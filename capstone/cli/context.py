"""What every command receives: the settings, and lazily opened services."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click

from capstone.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    _cache: dict[str, Any] = field(default_factory=dict)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error on stderr and exit with ``code``."""
    click.echo(f"capstone: error: {message}", err=True)
    sys.exit(code)


def print_json(document: Any) -> None:
    """Print one JSON document on stdout (the contract of every ``--json`` flag)."""
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False, default=str))


pass_app = click.make_pass_decorator(AppContext)
