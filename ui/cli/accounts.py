"""`kora admin`, `kora audit` and `kora feedback`: the web app's accounts, the audit
log of admin actions, and the stored feedback, all in people's database (``people``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from people import People, env_password
from ui.cli.quality import add_feedback_actions
from ui.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    Commands,
    action_group,
    load_settings,
    print_json,
)

if TYPE_CHECKING:
    from people import AccountStore, ApiKey


def actor() -> str:
    """Who ran a command-line change, as the audit log names them."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def _read_new_password(name: str) -> str:
    """From the terminal (asked twice, not echoed) or, in scripts, the first line of
    stdin; never from the command line, where `ps` and the shell history would show it."""
    import getpass

    from people import AccountError

    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise AccountError("The two passwords differ: nothing was changed.")
        return first
    line = sys.stdin.readline()
    if not line.strip():
        raise AccountError("No password on stdin: type it at a terminal, or pipe it in "
                           "(e.g. `kora admin add NAME < password-file`).")
    return line.rstrip("\r\n")


def cmd_admin(args: argparse.Namespace) -> int:
    from people import check_name

    settings = load_settings(args)
    people = People.open(settings, purge_feedback=False)
    store = people.accounts
    if args.admin_command == "list":
        return _admin_list(args, store)
    name = check_name(args.name)
    # each change carries its audit entry in its own transaction (people.accounts)
    if args.admin_command == "add":
        password = None if args.no_password else _read_new_password(name)
        account = store.add(name, role=args.role, password=password, actor=actor())
        print(f"Account {name!r} added (role {account.role}"
              f"{'' if password is not None else ', sign-in through the trusted proxy only'}).")
    elif args.admin_command == "passwd":
        if store.get(name) is None:
            from people import AccountError

            raise AccountError(f"No account {name!r}: see `kora admin list`.")
        store.set_password(name, _read_new_password(name), actor=actor())
        print(f"Password of {name!r} changed; its open web sessions have ended.")
    else:
        store.remove(name, actor=actor())
        print(f"Account {name!r} removed; its open web sessions have ended.")
    if store.has_accounts() and env_password() is not None:
        print("Note: KORA_ADMIN_PASSWORD is now ignored because named accounts exist; "
              "unset it.", file=sys.stderr)
    return EXIT_OK


def _admin_list(args: argparse.Namespace, store: AccountStore) -> int:
    accounts = store.accounts()
    env_set = env_password() is not None
    env_state = "unset" if not env_set else "ignored" if accounts else "active"
    if args.json:
        print_json({
            "database": store.location,
            "accounts": [{"name": a.name, "role": a.role,
                          "sign_in": "password" if a.password_hash else "proxy",
                          "created": a.created, "password_changed": a.password_changed}
                         for a in accounts.values()],
            "env_password": env_state,
        })
        return EXIT_OK
    if accounts:
        print(f"{'account':<24}{'role':<8}{'sign-in':<10}{'created':<27}password changed")
    for a in accounts.values():
        sign_in = "password" if a.password_hash else "proxy"
        print(f"{a.name:<24}{a.role:<8}{sign_in:<10}{a.created:<27}{a.password_changed}")
    if not accounts:
        print(f"No named accounts ({store.location}). Add one: kora admin add NAME")
    messages = {
        "active": "KORA_ADMIN_PASSWORD is set and in use: one shared admin password without "
                  "a name (single-admin set-up; the audit log cannot tell people apart).",
        "ignored": "KORA_ADMIN_PASSWORD is set but ignored because named accounts exist: "
                   "unset it.",
        "unset": "KORA_ADMIN_PASSWORD is not set.",
    }
    print(messages[env_state])
    return EXIT_OK


def cmd_token(args: argparse.Namespace) -> int:
    """`kora admin token add|list|revoke`: keys for the OpenAI-compatible API (/v1)."""
    settings = load_settings(args)
    people = People.open(settings, purge_feedback=False)
    store = people.api_keys  # adding and revoking are audited with the change
    if args.token_command == "list":
        return _token_list(args, store.entries())
    if args.token_command == "add":
        key, secret = store.add(args.name, actor=actor(), expires_days=args.expires)
        if args.json:
            print_json({"id": key.id, "name": key.name, "key": secret,
                        "created": key.created, "expires": key.expires})
            return EXIT_OK
        until = f", valid until {key.expires}" if key.expires else ", no expiry"
        print(f"API key {key.id} for {key.name!r}{until}. It is shown only this once; "
              "KORA keeps only its hash:")
        print(secret)
        print("Use it as 'Authorization: Bearer <key>' (in Open WebUI: the connection's "
              "API key).", file=sys.stderr)
        return EXIT_OK
    for key in store.revoke(args.key, actor=actor()):
        print(f"API key {key.id} of {key.name!r} revoked; requests with it are refused "
              "from now on.")
    return EXIT_OK


def _token_list(args: argparse.Namespace, keys: list[ApiKey]) -> int:
    rows = [{"id": k.id, "name": k.name, "state": k.state(), "created": k.created,
             "expires": k.expires, "revoked": k.revoked, "requests": k.requests,
             "last_used": k.last_used} for k in keys]
    if args.json:
        print_json({"keys": rows})
        return EXIT_OK
    if not rows:
        print("No API keys. Add one: kora admin token add NAME [--expires DAYS]")
        return EXIT_OK
    print(f"{'id':<10}{'name':<24}{'state':<9}{'requests':>9}  {'created':<27}"
          f"{'expires':<27}last used")
    for row in rows:
        print(f"{row['id']:<10}{row['name']:<24}{row['state']:<9}{row['requests']:>9}  "
              f"{row['created']:<27}{row['expires'] or '-':<27}{row['last_used'] or '-'}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from people import entry_row

    settings = load_settings(args)
    audit = People.open(settings, purge_feedback=False).audit
    entries = audit.entries(limit=args.limit)
    check = audit.verify()
    if args.json:
        print_json({"database": audit.location, "intact": check.intact,
                     "entries_checked": check.entries,
                     "first_broken_entry": check.first_broken_line, "entries": entries})
    else:
        for entry in entries:
            row = entry_row(entry)
            line = (f"{row['time']}  {row['account'] or '-'}  {row['client'] or '-'}  "
                    f"{row['action']}  {row['outcome']}")
            if row["documents"]:
                line += f"  {row['documents']}"
            if row["detail"]:
                line += f"  {row['detail']}"
            print(line)
        if not entries:
            print(f"The audit log is empty ({audit.location}).")
    if not check.intact:
        print(f"kora: warning: the audit log was changed outside KORA from entry "
              f"{check.first_broken_line} on ({audit.location}).", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    days = args.older_than if args.older_than is not None else settings.feedback_retention_days
    people = People.open(settings, purge_feedback=False)
    # the retention period covers the refused questions kept for "Fehlende Themen" too
    removed = people.purge(older_than_days=days)
    people.audit.append(
        action="feedback-purge", account=actor(), client="local",
        detail={"older_than_days": days, "removed": removed["feedback"],
                "unanswered_removed": removed["unanswered"]})
    if args.json:
        print_json({"removed": removed["feedback"], "older_than_days": days,
                    "unanswered_removed": removed["unanswered"]})
    else:
        print(f"{removed['feedback']} feedback entries older than {days:g} days removed, "
              f"and {removed['unanswered']} unanswered questions.")
    return EXIT_OK


def add_admin(commands: Commands, common: argparse.ArgumentParser) -> None:
    action = action_group(commands, "admin", help="named accounts for the web app's admin area",
                          handler=cmd_admin, common=common)
    add = action("add", "add an account; the password is asked for (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "chat"], default="admin",
                     help="admin (default) or chat (may only ask, with chat login on)")
    add.add_argument("--no-password", action="store_true",
                     help="no password: signs in only through the trusted proxy header")
    action("passwd", "set a new password (asked for, or from stdin)").add_argument("name")
    action("remove", "remove an account").add_argument("name")
    action("list", "list the accounts").add_argument("--json", action="store_true")
    token = action("token", "API keys for the OpenAI-compatible API (/v1)",
                   shared_options=False)
    token.set_defaults(handler=cmd_token)
    tokens = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_add = tokens.add_parser("add", parents=[common],
                                  help="make a key for a named client; printed once")
    token_add.add_argument("name", help="who uses the key: a portal, a team or a person")
    token_add.add_argument("--expires", type=_positive_int, metavar="DAYS",
                           help="the key stops working after DAYS days (default: never)")
    token_add.add_argument("--json", action="store_true")
    tokens.add_parser("list", parents=[common], help="list the keys (never the keys "
                      "themselves) with their request counts").add_argument(
                          "--json", action="store_true")
    tokens.add_parser("revoke", parents=[common], help="revoke a key by its id, or every "
                      "key of a client name").add_argument("key", metavar="ID_OR_NAME")


def add_audit(commands: Commands, common: argparse.ArgumentParser) -> None:
    audit = commands.add_parser("audit", parents=[common],
                                help="print the audit log of admin actions")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--limit", type=_positive_int, help="only the latest N entries")
    audit.set_defaults(handler=cmd_audit)


def add_feedback(commands: Commands, common: argparse.ArgumentParser) -> None:
    action = action_group(commands, "feedback", help="stored staff feedback",
                          handler=cmd_feedback, common=common)
    purge = action(
        "purge",
        "delete feedback and unanswered questions older than the retention period "
        "(KORA_FEEDBACK_RETENTION_DAYS)")
    purge.add_argument("--older-than", type=_non_negative_float, metavar="DAYS",
                       help="delete entries older than DAYS days (default: the retention "
                            "setting, 90)")
    purge.add_argument("--json", action="store_true")
    add_feedback_actions(action)


# argparse names these functions in its messages ("invalid _positive_int value")
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
