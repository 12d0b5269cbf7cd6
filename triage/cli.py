"""The `triage` command.

    triage classify "tekst"              readable triage of one message
    triage classify --jsonl FILE|-       the JSON-lines contract (docs/architecture.md)
    triage train                         rebuild models/ from training_data/
    triage evaluate [--data FILE]        metrics, and models/MODEL_CARD.md
    triage serve                         store, SMTP in (127.0.0.1:8025), IMAP/outbound when
                                         configured, HTTP API on 127.0.0.1:8000
    triage messages list --json          every stored inbound message with its case number
    triage cases list --json             every case
    triage cases show NUMBER             one case (an audit event)
    triage retention run                 anonymise/delete closed cases past the retention period
    triage model list|train|activate V|rollback   model versions, retraining with the corrections
    triage settings                      every setting (TRIAGE_*) with default and meaning
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from .config import get_settings

log = logging.getLogger("triage")

BATCH = 256


def _err(msg: str) -> None:
    print(f"triage: {msg}", file=sys.stderr)


# --------------------------------------------------------------- classify
def _read_jsonl(stream: BinaryIO) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, record or None, error or None) for every non-blank line."""
    for lineno, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
            problem = None
        except UnicodeDecodeError as exc:
            line = raw.decode("utf-8", errors="replace")
            problem = f"line {lineno}: invalid UTF-8 at byte {exc.start}, replaced"
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, None, f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield lineno, None, f"line {lineno}: expected a JSON object"
            continue
        text = obj.get("text")
        if not isinstance(text, str):
            yield lineno, obj, f"line {lineno}: field 'text' is missing or not a string"
            continue
        if not text.strip() and not str(obj.get("subject") or "").strip():
            yield lineno, obj, f"line {lineno}: empty text"
            continue
        yield lineno, obj, problem


def _error_line(obj: dict | None, error: str) -> dict:
    return {
        "id": (obj or {}).get("id"), "category": None, "domains": [], "confidence": 0.0, "fields": {},
        "consent": "onbekend", "route": "kcc_review", "answer_id": None, "reasons": [], "error": error,
    }


def classify_jsonl(triage, stream: BinaryIO, out) -> int:
    """Classify every line in order; returns the number of lines that failed."""
    from .pipeline import Message

    failures = 0
    pending: list[tuple[dict | None, str | None, Message | None]] = []

    def flush() -> None:
        msgs = [m for _, _, m in pending if m is not None]
        results = iter(triage.classify_many(msgs)) if msgs else iter(())
        for obj, error, msg in pending:
            if msg is None:
                line = _error_line(obj, error or "unknown error")
            else:
                line = next(results).contract()
                if error:
                    line["warning"] = error
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
        pending.clear()

    for lineno, obj, error in _read_jsonl(stream):
        if error:
            _err(error)
            failures += 1
        if obj is None or not isinstance(obj.get("text"), str) or (error and "empty text" in error):
            pending.append((obj, error, None))
        else:
            subject = obj.get("subject")
            msg = Message(text=obj["text"], channel=str(obj.get("channel") or "email"),
                          subject=subject if isinstance(subject, str) else None,
                          id=obj.get("id"))
            pending.append((obj, error, msg))
        if len(pending) >= BATCH:
            flush()
    flush()
    return failures


def _print_readable(res) -> None:
    print(f"categorie:   {res.category}  (zekerheid {res.confidence:.2f})")
    print(f"domeinen:    {', '.join(res.domains) or '-'}")
    if res.route:
        extra = f", prioriteit {res.priority}" if res.priority else ""
        dest = f", naar {res.destination}" if res.destination else ""
        print(f"route:       {res.route}{extra}{dest}")
    if res.answer_id:
        print(f"antwoord:    {res.answer_id} (score {res.answer_score:.2f})")
    if res.fields:
        print("startformulier:")
        for k, v in res.fields.items():
            print(f"  {k}: {v}")
    print(f"toestemming: {res.consent}")
    print("redenen:")
    for r in res.reasons:
        print(f"  - {r}")


def cmd_classify(args) -> int:
    from .model import ModelLoadError
    from .pipeline import Triage

    try:
        triage = Triage(args.models)
    except ModelLoadError as exc:
        _err(str(exc))
        return 2
    if args.jsonl:
        if args.jsonl == "-":
            failures = classify_jsonl(triage, sys.stdin.buffer, sys.stdout)
        else:
            path = Path(args.jsonl)
            if not path.exists():
                _err(f"no such file: {path}")
                return 2
            with open(path, "rb") as fh:
                failures = classify_jsonl(triage, fh, sys.stdout)
        if failures:
            _err(f"{failures} line(s) failed; see messages above")
        return 1 if failures else 0
    if not args.text:
        _err("give a text, or --jsonl FILE|-")
        return 2
    text = " ".join(args.text)
    if not text.strip():
        _err("empty text")
        return 1
    res = triage.classify(text, channel=args.channel, subject=args.subject)
    if args.json:
        print(json.dumps(res.full(), ensure_ascii=False, indent=2))
    else:
        _print_readable(res)
    return 0


# ------------------------------------------------------------ train/eval
def cmd_train(args) -> int:
    from .train import train

    settings = get_settings()
    data = Path(args.data) if args.data else settings.training_data_dir
    out = Path(args.models) if args.models else settings.model_dir
    train(data, out, log=lambda m: print(m, file=sys.stderr))
    return 0


def cmd_evaluate(args) -> int:
    from .dataset import load_records, split
    from .evaluate import evaluate_records, format_report, write_model_card
    from .pipeline import Triage

    settings = get_settings()
    model_dir = Path(args.models) if args.models else settings.model_dir
    triage = Triage(model_dir)
    if args.data:
        records = load_records(Path(args.data))
        title = args.data
    else:
        _, records = split(load_records(settings.training_data_dir / "messages"))
        title = "held-out split"
    ev = evaluate_records(triage, records)
    report = format_report(ev, title)
    print(report)
    if not args.data and not args.no_card:
        manifest_path = model_dir / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        write_model_card(model_dir / "MODEL_CARD.md", report, manifest,
                         {"crisis_threshold": triage.models.crisis_threshold})
        (model_dir / "metrics.json").write_text(json.dumps(ev.as_dict(), indent=2, sort_keys=True, default=float))
        print(f"\nwrote {model_dir / 'MODEL_CARD.md'}", file=sys.stderr)
    return 0


def _settings_from(args):
    overrides = {}
    for name in ("db_url", "smtp_host", "smtp_port", "http_host", "http_port", "outbound_smtp", "imap_host"):
        v = getattr(args, name, None)
        if v is not None:
            overrides[name] = v
    if getattr(args, "no_smtp", False):
        overrides["smtp_enabled"] = False
    return get_settings(**overrides)


def _store(settings):
    from .store import Store, StoreUnavailable

    store = Store(settings.database_url())
    try:
        store.migrate()
    except Exception as exc:  # unreachable database: a clear message, no traceback
        raise StoreUnavailable(f"database unavailable ({type(exc).__name__})") from exc
    return store


def cmd_serve(args) -> int:
    from .web.app import run

    settings = _settings_from(args)
    return run(host=settings.http_host, port=settings.http_port, model_dir=args.models, settings=settings)


def _dump(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def cmd_messages(args) -> int:
    rows = _store(_settings_from(args)).list_messages()
    if args.json:
        _dump(rows)
    else:
        for r in rows:
            print(f"{r['id']:>6}  {r['kanaal']:<6} {r['status']:<9} {r['case_number'] or '-':<16} "
                  f"{r['auto_reply'] or ''}")
    return 0


def cmd_cases(args) -> int:
    store = _store(_settings_from(args))
    if args.action == "list":
        rows = store.list_cases()
        if args.json:
            _dump(rows)
        else:
            for c in rows:
                print(f"{c['number']}  {c['category']:<12} {c['route']:<12} {c['status']:<9} {','.join(c['domains'])}")
        return 0
    if not args.number:
        _err("cases show needs a case number, e.g. triage cases show SWT-2026-000123")
        return 2
    case = store.show_case(args.number, actor=f"cli:{_whoami()}")
    if case is None:
        _err(f"no case {args.number}")
        return 1
    if args.json:
        _dump(case)
    else:
        _print_case(case)
    return 0


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _print_case(c: dict) -> None:
    print(f"Zaak {c['number']}  ({c['status']}, aangemaakt {c['created_at'][:16].replace('T', ' ')})")
    print(f"  categorie: {c['category']}   route: {c['route']}   prioriteit: {c['priority'] or '-'}")
    print(f"  leefgebieden: {', '.join(c['domains']) or '-'}   wijk: {c['wijk'] or '-'}")
    form = c.get("startformulier") or {}
    if form:
        print(f"  hulpvraag: {form['hulpvraag']}")
        for k, v in (form.get("fields") or {}).items():
            print(f"  {k}: {({True: 'ja', False: 'nee'}.get(v, v) if isinstance(v, bool) else v)}")
        print(f"  toestemming: {form['consent']}")
    for m in c["messages"]:
        print(f"\n--- bericht {m['id']} ({m['received_at'][:16]}) {m['onderwerp']}\n{m['inhoud']}")
    for r in c["replies"]:
        print(f"\n--- antwoord ({r['kind']}, {r['status']}): {r['subject']}")


def cmd_retention(args) -> int:
    settings = _settings_from(args)
    store = _store(settings)
    days = args.days if args.days is not None else settings.retention_days
    mode = args.mode or settings.retention_mode
    n = store.run_retention(days, mode, actor=f"cli:{_whoami()}")
    print(f"{n} closed cases older than {days} days {'deleted' if mode == 'delete' else 'anonymised'}")
    print("%d chat conversations without a case (%d messages) deleted" % store.run_chat_retention(settings.chat_retention_days))
    return 0


def _password(args) -> str:
    """From --password-stdin (one line) or asked twice at the terminal."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Wachtwoord: ")
    if first != getpass.getpass("Nog een keer: "):
        raise ValueError("the two passwords differ")
    return first


def cmd_users(args) -> int:
    from .web.auth import hash_password

    store = _store(_settings_from(args))
    actor = f"cli:{_whoami()}"
    try:
        if args.action == "add":
            if not args.username or not args.role:
                raise ValueError("users add needs a user name and --role")
            store.add_user(args.username, args.role, hash_password(_password(args)), args.name or args.username,
                           actor=actor)
            print(f"user {args.username} added with role {args.role}")
        elif args.action == "list":
            rows = [{"username": u.username, "role": u.role, "display_name": u.display_name, "active": u.active,
                     "last_login_at": u.last_login_at} for u in store.list_users()]
            if args.json:
                _dump(rows)
            else:
                for r in rows:
                    print(f"{r['username']:<24} {r['role']:<13} {'active' if r['active'] else 'blocked':<8} {r['display_name']}")
        elif args.action == "password":
            store.update_user(args.username, actor, password_hash=hash_password(_password(args)))
            print(f"password of {args.username} changed; its logins ended")
        elif args.action in ("block", "unblock"):
            store.update_user(args.username, actor, active=args.action == "unblock")
            print(f"user {args.username} {'blocked' if args.action == 'block' else 'active again'}")
    except ValueError as exc:
        _err(str(exc))
        return 2
    return 0


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def cmd_model(args) -> int:
    """Model versions: list, train (with the corrections), activate, rollback."""
    import os

    from .retrain import ModelError, ModelRegistry

    settings = _settings_from(args)
    store = _store(settings)
    shipped = Path(args.models) if args.models else settings.model_dir  # the released models, the baseline
    registry = ModelRegistry(settings.model_versions_path(), shipped, store=store,
                             min_crisis_recall=settings.model_min_crisis_recall)
    actor = f"cli:{_whoami()}"
    try:
        if args.action == "list":
            rows = registry.versions()
            if args.json:
                _dump(rows)
                return 0
            print(f"{'version':<20}{'status':<13}{'macro-F1':>9}{'crisis R':>10}{'crisis P':>10}{'domain F1':>10}"
                  f"{'corr.':>7}  by")
            for v in rows:
                m = v.get("metrics") or {}
                print(f"{v['version']:<20}{v['status']:<13}{_fmt(m.get('macro_f1')):>9}{_fmt(m.get('crisis_recall')):>10}"
                      f"{_fmt(m.get('crisis_precision')):>10}{_fmt(m.get('domain_micro_f1')):>10}"
                      f"{v.get('n_corrections') or 0:>7}  {v.get('created_by') or '-'}")
            return 0
        if args.action == "train":
            try:
                os.nice(10)  # a running `triage serve` on this machine keeps answering
            except OSError:
                pass
            info = registry.train_candidate(settings.training_data_dir, store, actor,
                                            log_fn=lambda m: print(m, file=sys.stderr))
            if args.json:
                _dump(info)
                return 0
            cmp = registry.compare(info["version"])
            a, c = cmp["active"]["metrics"] or {}, cmp["candidate"]["metrics"] or {}
            print(f"held-out split ({info['n_heldout']} messages); {info['n_corrections']} corrected cases added; "
                  f"{info['seconds']:.1f} s")
            print(f"{'':<18}{'active ' + cmp['active']['version']:>26}{'new ' + info['version']:>26}")
            for key, name in (("macro_f1", "macro-F1"), ("accuracy", "accuracy"), ("crisis_recall", "crisis recall"),
                              ("crisis_precision", "crisis precision"), ("domain_micro_f1", "domain micro-F1"),
                              ("field_micro_f1", "field micro-F1")):
                print(f"{name:<18}{_fmt(a.get(key)):>26}{_fmt(c.get(key)):>26}")
            if info["can_activate"]:
                print(f"\nactivate with: triage model activate {info['version']}")
            else:
                print(f"\n{info['why_not']}")
            return 0
        if args.action == "activate":
            if not args.version:
                _err("model activate needs a version (see triage model list)")
                return 2
            info = registry.activate(args.version, actor)
            print(f"model version {info['version']} is active; a running `triage serve` takes it into use "
                  "within a minute")
            return 0
        info = registry.rollback(actor)
        print(f"model version {info['version']} is active again; a running `triage serve` takes it into use "
              "within a minute")
        return 0
    except ModelError as exc:
        _err(str(exc))
        return 2


def cmd_settings(args) -> int:
    from .config import settings_markdown

    print(settings_markdown())
    return 0


# ------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="triage", description="KCC front-door triage assistant of the Sociaal Wijkteam.")
    p.add_argument("--models", help="model folder (default: models/ or TRIAGE_MODEL_DIR)")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("classify", help="classify a message, or JSON lines with --jsonl")
    c.add_argument("text", nargs="*", help="the message text")
    c.add_argument("--jsonl", metavar="FILE|-", help="read JSON lines {id, channel, text, subject?}; write one result line each")
    c.add_argument("--channel", default="email", help="email, chat, phone or partner (default email)")
    c.add_argument("--subject", help="mail subject")
    c.add_argument("--json", action="store_true", help="full result as JSON instead of readable text")
    c.set_defaults(func=cmd_classify)

    t = sub.add_parser("train", help="rebuild models/ from training_data/")
    t.add_argument("--data", help="training data folder (default training_data/)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="metrics on the held-out split (or --data FILE); writes MODEL_CARD.md")
    e.add_argument("--data", help="a labelled JSONL file or folder to evaluate on instead")
    e.add_argument("--no-card", action="store_true", help="do not write the model card")
    e.set_defaults(func=cmd_evaluate)

    def db_option(parser):
        parser.add_argument("--db-url", dest="db_url", help="database URL (default TRIAGE_DB_URL or triage-data/triage.db)")

    s = sub.add_parser("serve", help="run the store, mail channels and the HTTP API")
    db_option(s)
    s.add_argument("--host", dest="http_host", default=None, help="HTTP address (default 127.0.0.1)")
    s.add_argument("--port", "--http-port", dest="http_port", type=int, default=None, help="HTTP port (default 8000)")
    s.add_argument("--smtp-host", dest="smtp_host", default=None, help="SMTP address (default 127.0.0.1)")
    s.add_argument("--smtp-port", dest="smtp_port", type=int, default=None, help="SMTP port (default 8025)")
    s.add_argument("--no-smtp", action="store_true", help="do not receive mail over SMTP")
    s.add_argument("--outbound-smtp", dest="outbound_smtp", default=None, help="relay for replies, host:port")
    s.add_argument("--imap-host", dest="imap_host", default=None, help="IMAP server (user and password from TRIAGE_IMAP_*)")
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("messages", help="stored inbound messages")
    m.add_argument("action", choices=["list"])
    m.add_argument("--json", action="store_true")
    db_option(m)
    m.set_defaults(func=cmd_messages)

    cs = sub.add_parser("cases", help="cases: list, or show one")
    cs.add_argument("action", choices=["list", "show"])
    cs.add_argument("number", nargs="?", help="case number for show, e.g. SWT-2026-000123")
    cs.add_argument("--json", action="store_true")
    db_option(cs)
    cs.set_defaults(func=cmd_cases)

    r = sub.add_parser("retention", help="anonymise or delete closed cases past the retention period")
    r.add_argument("action", choices=["run"])
    r.add_argument("--days", type=int, default=None, help="override TRIAGE_RETENTION_DAYS")
    r.add_argument("--mode", choices=["anonymise", "delete"], default=None, help="override TRIAGE_RETENTION_MODE")
    db_option(r)
    r.set_defaults(func=cmd_retention)

    u = sub.add_parser("users", help="console accounts: add, list, password, block, unblock")
    u.add_argument("action", choices=["add", "list", "password", "block", "unblock"])
    u.add_argument("username", nargs="?", help="user name")
    u.add_argument("--role", choices=["kcc", "bureaudienst", "beheer"], help="role of a new user")
    u.add_argument("--name", help="display name (default: the user name)")
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input (scripts)")
    u.add_argument("--json", action="store_true")
    db_option(u)
    u.set_defaults(func=cmd_users)

    mo = sub.add_parser("model", help="model versions: list, train (with the corrections), activate, rollback")
    mo.add_argument("action", choices=["list", "train", "activate", "rollback"])
    mo.add_argument("version", nargs="?", help="version for activate (see model list)")
    mo.add_argument("--json", action="store_true")
    db_option(mo)
    mo.set_defaults(func=cmd_model)

    st = sub.add_parser("settings", help="every setting with its default and meaning (Markdown)")
    st.set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # aiosmtpd logs every SMTP command (addresses) at INFO; Alembic is chatty
    for noisy in ("mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from .store import StoreUnavailable

    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except StoreUnavailable as exc:
        _err(f"{exc}; check TRIAGE_DB_URL and that the database server runs")
        return 3
    except ValidationError as exc:  # a setting with a wrong value: name it, show no values
        for e in exc.errors():
            name = "TRIAGE_" + "_".join(str(p) for p in e.get("loc", ())).upper()
            _err(f"setting {name}: {e.get('msg', 'invalid')}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
