"""`kora feedback list|accept` and `kora report unanswered`: the quality loop from the
command line, as the admin area's "Qualität" section runs it (same stores, same audit
entries)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from people import AcceptedCase, CaseError, LocalGolden, People, parse_facts
from ui.cli.shared import EXIT_OK, Commands, action_group, load_settings, print_json

if TYPE_CHECKING:
    from rag.settings import Settings

RATINGS = {"down": -1, "up": 1, "all": None}


def cmd_feedback_list(args: argparse.Namespace) -> int:
    from ui.cli.accounts import actor

    settings = load_settings(args)
    people = People.open(settings)
    entries = people.feedback.entries(rating=RATINGS[args.rating], limit=args.limit)
    people.audit.append(action="feedback-list", account=actor(), client="local",
                        detail={"rating": args.rating, "rows": len(entries)})
    if args.json:
        print_json({"feedback": entries,
                    "retention_days": settings.feedback_retention_days})
        return EXIT_OK
    if not entries:
        print(f"No {'' if args.rating == 'all' else args.rating + '-rated '}feedback "
              f"(kept for {settings.feedback_retention_days} days).")
        return EXIT_OK
    for entry in entries:
        thumb = "up  " if entry["rating"] > 0 else "down"
        case = f"  [case {entry['case_id']}]" if entry["case_id"] else ""
        print(f"#{entry['id']:<5} {entry['created_at']}  {thumb}  {entry['question']}{case}")
        if entry["comment"]:
            print(f"       comment: {entry['comment']}")
        sources = ", ".join(str(s.get("doc_id", "")) for s in entry["sources"])
        if sources:
            print(f"       sources: {sources}")
    return EXIT_OK


def cmd_feedback_accept(args: argparse.Namespace) -> int:
    from rag.errors import UsageError
    from ui.cli.accounts import actor

    settings = load_settings(args)
    facts = parse_facts(args.fact or [])
    if args.out_of_scope and (facts or args.doc):
        raise UsageError("--out-of-scope excludes --fact and --doc: a question the documents "
                         "do not cover has no expected facts.")
    if not args.out_of_scope and not facts:
        raise UsageError("Give the expected key facts (--fact \"…\", repeatable; variants "
                         "separated by |), or --out-of-scope.")
    people = People.open(settings)
    entry = people.feedback.entry(args.id)
    if entry is None:
        raise UsageError(f"No feedback #{args.id} (it may be past the retention of "
                         f"{settings.feedback_retention_days} days): see `kora feedback list`.")
    if args.doc:
        check_document(settings, args.doc)
    try:
        case = LocalGolden(settings.golden_local_path).accept(
            entry, facts=facts, doc=args.doc, out_of_scope=args.out_of_scope,
            account=actor())
    except CaseError as exc:
        raise UsageError(str(exc)) from exc
    people.feedback.mark_case(entry["id"], case.id)
    audit_accept(people, account=actor(), client="local", entry=entry, case=case,
                 facts=len(facts), doc=args.doc, path=str(settings.golden_local_path))
    if args.json:
        print_json({"case": case.entry, "replaced": case.replaced,
                    "file": str(settings.golden_local_path)})
        return EXIT_OK
    what = "out of scope (KORA should refuse it)" if case.out_of_scope else \
        f"{len(facts)} key fact(s)" + (f", expected document {args.doc}" if args.doc else "")
    verb = "replaced" if case.replaced else "added"
    print(f"Case {case.id} {verb} in {settings.golden_local_path}: {what}. "
          "`kora eval` runs it from now on.")
    return EXIT_OK


def check_document(settings: Settings, doc_id: str) -> None:
    """A named expected document must be one the live index holds (when there is one)."""
    from rag.errors import EmptyIndexError, UsageError
    from rag.providers.vectorstore import DataDir

    try:
        index = DataDir(settings).open_current(verify_model=False)
    except EmptyIndexError:
        return
    try:
        known = set(index.file_states())
    finally:
        index.close()
    if doc_id not in known:
        raise UsageError(f"No document {doc_id!r} in the index: use an id as `kora ask "
                         "--json` shows it (the path relative to the corpus folder).")


def audit_accept(people: People, *, account: str, client: str, entry: Mapping[str, object],
                 case: AcceptedCase, facts: int, doc: str | None, path: str) -> None:
    people.audit.append(action="feedback-accept", account=account, client=client,
                        documents=[{"doc_id": doc, "sha256": ""}] if doc else [],
                        detail={"feedback_id": entry["id"], "case_id": case.id,
                                "out_of_scope": case.out_of_scope, "key_facts": facts,
                                "replaced": case.replaced, "file": path})


def cmd_report(args: argparse.Namespace) -> int:
    from rag.providers.embedding import Embedder
    from ui.cli.accounts import actor

    settings = load_settings(args)
    people = People.open(settings)
    # grouping purges what is past retention first; the model loads only when needed
    every = (people.unanswered.topics(Embedder.load(settings))
             if people.unanswered.count() else [])
    questions = sum(topic.count for topic in every)
    topics = every[:args.limit]
    people.audit.append(action="unanswered-report", account=actor(), client="local",
                        detail={"topics": len(topics), "questions": questions})
    if args.json:
        print_json({"recording": settings.record_unanswered,
                    "retention_days": settings.feedback_retention_days,
                    "questions": questions,
                    "topics": [topic.as_dict() for topic in topics]})
        return EXIT_OK
    if not settings.record_unanswered:
        print("Refused questions are not being recorded (KORA_RECORD_UNANSWERED is off).",
              file=sys.stderr)
    if not topics:
        print("No unanswered questions recorded.")
        return EXIT_OK
    print(f"{questions} refused questions in {len(every)} topics, the {len(topics)} most "
          f"asked shown (kept {settings.feedback_retention_days} days):")
    for topic in topics:
        print(f"{topic.count:>5}  {topic.label}")
        for example in topic.examples()[1:]:
            print(f"       also: {example}")
    return EXIT_OK


def add_feedback_actions(action: Any) -> None:
    """`kora feedback list` and `kora feedback accept` (``action`` adds an action to the
    `kora feedback` group)."""
    listing = action("list", "list stored feedback, newest first")
    listing.add_argument("--rating", choices=sorted(RATINGS), default="all",
                         help="only down- (👎) or up-rated (👍) feedback (default: all)")
    listing.add_argument("--limit", type=_positive_int, help="only the newest N")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_feedback_list)
    accept = action("accept", "make a test case of a feedback entry in the local golden set "
                              "(KORA_GOLDEN_LOCAL, default DATA_DIR/golden-local.yaml)")
    accept.add_argument("id", type=_positive_int, metavar="ID",
                        help="the feedback's number (kora feedback list)")
    accept.add_argument("--fact", action="append", metavar="TEXT",
                        help="an expected key fact the answer must state (repeatable; "
                             "variants separated by |)")
    accept.add_argument("--doc", metavar="DOC_ID", help="the document that should answer it")
    accept.add_argument("--out-of-scope", action="store_true",
                        help="the documents do not cover it: KORA should refuse")
    accept.add_argument("--json", action="store_true")
    accept.set_defaults(handler=cmd_feedback_accept)


def add_report(commands: Commands, common: argparse.ArgumentParser) -> None:
    action = action_group(commands, "report", help="reports for admins",
                          handler=cmd_report, common=common)
    unanswered = action("unanswered", "the topics of the questions KORA refused "
                                      "(KORA_RECORD_UNANSWERED), most asked first")
    unanswered.add_argument("--limit", type=_positive_int, default=20,
                            help="at most N topics (default 20)")
    unanswered.add_argument("--json", action="store_true")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
