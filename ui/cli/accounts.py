"""`kora admin`, `kora audit` and `kora feedback`: the web app's accounts, the audit
log of admin actions, and the stored feedback."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import closing
from typing import Any

from ui.accounts import env_password
from ui.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    Commands,
    action_group,
    load_settings,
    print_json,
)


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

    from ui.accounts import AccountError

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
    from ui.accounts import AccountStore, check_name
    from ui.audit import AuditLog

    settings = load_settings(args)
    store = AccountStore.in_data_dir(settings.data_dir)
    audit = AuditLog.in_data_dir(settings.data_dir)
    if args.admin_command == "list":
        return _admin_list(args, store)
    name = check_name(args.name)
    if args.admin_command == "add":
        password = None if args.no_password else _read_new_password(name)
        account = store.add(name, role=args.role, password=password)
        detail = {"role": account.role, "password": password is not None}
        print(f"Account {name!r} added (role {account.role}"
              f"{'' if password is not None else ', sign-in through the trusted proxy only'}).")
    elif args.admin_command == "passwd":
        if store.get(name) is None:
            from ui.accounts import AccountError

            raise AccountError(f"No account {name!r}: see `kora admin list`.")
        store.set_password(name, _read_new_password(name))
        detail = {}
        print(f"Password of {name!r} changed; its open web sessions have ended.")
    else:
        removed = store.remove(name)
        detail = {"role": removed.role}
        print(f"Account {name!r} removed; its open web sessions have ended.")
    audit.append(action=f"account-{args.admin_command}", account=actor(), client="local",
                 detail={"target": name, **detail})
    if store.has_accounts() and env_password() is not None:
        print("Note: KORA_ADMIN_PASSWORD is now ignored because named accounts exist; "
              "unset it.", file=sys.stderr)
    return EXIT_OK


def _admin_list(args: argparse.Namespace, store: Any) -> int:
    accounts = store.accounts()
    loose = store.loose_permissions()
    env_set = env_password() is not None
    env_state = "unset" if not env_set else "ignored" if accounts else "active"
    if args.json:
        print_json({
            "file": str(store.path),
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
        print(f"No named accounts ({store.path}). Add one: kora admin add NAME")
    messages = {
        "active": "KORA_ADMIN_PASSWORD is set and in use: one shared admin password without "
                  "a name (single-admin set-up; the audit log cannot tell people apart).",
        "ignored": "KORA_ADMIN_PASSWORD is set but ignored because named accounts exist: "
                   "unset it.",
        "unset": "KORA_ADMIN_PASSWORD is not set.",
    }
    print(messages[env_state])
    if loose:
        print(f"Warning: {store.path} was readable by others; its mode is now 0600.",
              file=sys.stderr)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from ui.audit import AuditLog, entry_row

    settings = load_settings(args)
    audit = AuditLog.in_data_dir(settings.data_dir)
    entries = audit.entries(limit=args.limit)
    check = audit.verify()
    if args.json:
        print_json({"file": str(audit.path), "intact": check.intact,
                     "first_broken_line": check.first_broken_line, "entries": entries})
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
            print(f"The audit log is empty ({audit.path}).")
    if not check.intact:
        print(f"kora: warning: the audit log was changed outside KORA from line "
              f"{check.first_broken_line} on ({audit.path}).", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from ui.audit import AuditLog
    from ui.feedback import FEEDBACK_FILE, FeedbackStore

    settings = load_settings(args)
    days = args.older_than if args.older_than is not None else settings.feedback_retention_days
    if not (settings.data_dir / FEEDBACK_FILE).exists():
        removed = 0
    else:
        with closing(FeedbackStore.in_data_dir(settings.data_dir)) as store:
            removed = store.purge(older_than_days=days)
    AuditLog.in_data_dir(settings.data_dir).append(
        action="feedback-purge", account=actor(), client="local",
        detail={"older_than_days": days, "removed": removed})
    if args.json:
        print_json({"removed": removed, "older_than_days": days})
    else:
        print(f"{removed} feedback entries older than {days:g} days removed.")
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
        "delete feedback older than the retention period (KORA_FEEDBACK_RETENTION_DAYS)")
    purge.add_argument("--older-than", type=_non_negative_float, metavar="DAYS",
                       help="delete entries older than DAYS days (default: the retention "
                            "setting, 90)")
    purge.add_argument("--json", action="store_true")


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
