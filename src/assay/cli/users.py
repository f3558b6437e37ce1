"""`assay users`: accounts of the rating app (raters, leads, admins)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from assay.cli._app import G, JsonOpt, app, console, emit_json, wants_json

users_app = typer.Typer(help="Add, list and manage accounts of the rating app.", no_args_is_help=True)
app.add_typer(users_app, name="users")

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def _password(from_stdin: bool) -> str:
    from assay.errors import BadInput

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise BadInput("no terminal to ask for the password: pipe it in with --password-stdin",
                       field="--password-stdin")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
        role: Annotated[str, typer.Option(help="rater, lead or admin.")] = "rater",
        password_stdin: PasswordStdin = False) -> None:
    """Add an account; the password comes from a prompt or --password-stdin (hashed with argon2)."""
    from assay.server.accounts import create_user

    user = create_user(G.store(), name, _password(password_stdin), role=role)
    console.print(f"added {user.role} {user.name} (rater id {user.rater_id})", highlight=False)


@users_app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """List accounts."""
    from assay.server.accounts import list_users

    rows = list_users(G.store())
    if wants_json(json_out):
        emit_json(rows)
        return
    t = Table("name", "role", "rater id", "status", "created")
    for u in rows:
        t.add_row(u["name"], u["role"], u["rater_id"], "disabled" if u["disabled"] else "active", str(u["created_at"])[:19])
    console.print(t)


@users_app.command("passwd")
def passwd(name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password (ends their sessions)."""
    from assay.server.accounts import set_password

    set_password(G.store(), name, _password(password_stdin))
    console.print(f"password of {name} changed")


@users_app.command("role")
def role(name: str, new_role: Annotated[str, typer.Argument(metavar="ROLE", help="rater, lead or admin.")]) -> None:
    """Change a user's role."""
    from assay.server.accounts import set_role

    set_role(G.store(), name, new_role)
    console.print(f"{name} is now {new_role}")


@users_app.command("disable")
def disable(name: str) -> None:
    """Disable an account (ends its sessions)."""
    from assay.server.accounts import set_disabled

    set_disabled(G.store(), name, True)
    console.print(f"{name} disabled")


@users_app.command("enable")
def enable(name: str) -> None:
    """Enable a disabled account."""
    from assay.server.accounts import set_disabled

    set_disabled(G.store(), name, False)
    console.print(f"{name} enabled")
