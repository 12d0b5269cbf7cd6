"""Fill a store with many realistic cases, fast: for speed tests of the
console and for trying it out with a full queue.

Texts, channels, categories, life domains and startformulier fields come from
the labelled corpus (training_data/messages/*.jsonl): its labels are used as
the triage, so no model runs and 10,000 cases take a few seconds. The cases
are spread over the last 26 weeks with a realistic mix (few crises, most
older cases closed, a backlog of open ones in both queues), each with one
inbound message (raw mail for mail), its startformulier, the replies a mail
gets, the audit events of what happened to it and some corrections. Every
table is written with bulk inserts in one transaction.

    from benchmarks.seed_cases import seed
    seed(store, n=10_000)                     # store: a migrated triage.store.Store

    .venv/bin/python benchmarks/seed_cases.py --db-url sqlite:///triage-data/triage.db -n 10000

The data is synthetic in form but the texts are the corpus's (made-up
residents): never seed a production database.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import func, insert, select, text  # noqa: E402

from triage.route import decide  # noqa: E402
from triage.store import (Case, CaseCounter, Conversation, Correction, Event,  # noqa: E402
                          InboundRecord, OutboundRecord, Startformulier, Store, queue_for)

__all__ = ["seed", "load_corpus"]

MESSAGES_DIR = REPO / "training_data" / "messages"
ANSWERS_FILE = REPO / "training_data" / "kennisbank" / "answers.jsonl"
# a front door's mix (the corpus holds far more crises than real traffic)
CATEGORY_MIX = {"info_advies": 0.45, "enkelvoudig": 0.30, "meervoudig": 0.22, "crisis": 0.03}
KCC_AGENTS = ("kcc", "a.devries", "m.jansen", "s.bakker")
BUREAU_AGENTS = ("bureaudienst", "p.visser", "r.smit")
WIJKTEAM = ("Anouk Mulder", "Bram de Boer", "Fatima El Amrani", "Henk Dekker", "Iris van Dijk", "Joost Meijer")
WEEKS = 26


def load_corpus(folder: Path = MESSAGES_DIR) -> list[dict]:
    """Every labelled record (plain dicts), sorted by file name."""
    rows = []
    for f in sorted(Path(folder).glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def _answers(triage) -> list[tuple[str, set]]:
    if triage is not None and getattr(triage, "kennisbank", None) is not None:
        kb = triage.kennisbank
        out = []
        for aid, a in kb.answers.items():
            doms = getattr(a, "domains", None)
            if doms is None and isinstance(a, dict):
                doms = a.get("domains")
            out.append((aid, set(doms or ())))
    else:
        with open(ANSWERS_FILE, encoding="utf-8") as fh:
            out = [(r["id"], set(r.get("domains") or ())) for r in map(json.loads, fh) if r]
    return [(aid, doms) for aid, doms in out if aid != "kb-crisis"]


def _municipality(triage):
    if triage is not None and getattr(triage, "municipality", None) is not None:
        return triage.municipality
    from triage.config import load_municipality

    return load_municipality()


def _next_ids(conn) -> dict:
    ids = {}
    for model in (InboundRecord, Case, Startformulier, Event, Correction, OutboundRecord, Conversation):
        ids[model] = (conn.execute(select(func.max(model.__table__.c.id))).scalar() or 0) + 1
    return ids


def _raw_mail(sender: str, name: str | None, subject: str, body: str, msgid: str, when: datetime, to: str) -> bytes:
    frm = f"{name} <{sender}>" if name else sender
    head = (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
            f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode() + body.replace("\n", "\r\n").encode("utf-8")


def seed(store: Store, n: int = 10_000, triage=None, seed: int = 0, *, weeks: int = WEEKS,
         now: datetime | None = None, corpus: list[dict] | None = None) -> dict:
    """Put ``n`` cases into ``store`` (migrated) in one transaction. Returns
    counts, the time taken and a few case numbers per queue and status
    (``"examples"``) for tests. ``triage``: a loaded Triage whose
    municipality and kennisbank are used (default: the shipped files)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    corpus = corpus if corpus is not None else load_corpus()
    by_cat: dict[str, list[dict]] = {c: [] for c in CATEGORY_MIX}
    for r in corpus:
        if r.get("category") in by_cat and r.get("text"):
            by_cat[r["category"]].append(r)
    cats = [c for c in CATEGORY_MIX if by_cat[c]]
    weights = [CATEGORY_MIX[c] for c in cats]
    answers = _answers(triage)
    muni = _municipality(triage)
    wijkteam_mail = muni.wijkteam_email
    domain = wijkteam_mail.split("@")[-1]

    # creation times: uniform over the period, busier on weekdays, sorted
    span = weeks * 7 * 86400
    times = []
    while len(times) < n:
        t = now - timedelta(seconds=rng.uniform(60, span))
        if t.weekday() >= 5 and rng.random() < 0.7:
            continue
        times.append(t.replace(hour=rng.choice((8, 9, 9, 10, 10, 11, 12, 13, 14, 14, 15, 16, 17, 19, 21)),
                               minute=rng.randrange(60)) if t.date() < now.date() else t)
    times.sort()

    rows: dict = {m: [] for m in (InboundRecord, Case, Startformulier, Event, Correction, OutboundRecord,
                                  Conversation)}
    examples: dict[str, list[str]] = {}

    def ev(at, actor, action, case_id=None, message_id=None, **detail):
        rows[Event].append({"at": at, "actor": actor, "action": action, "case_id": case_id,
                            "message_id": message_id, "detail": detail})

    with store.engine.begin() as conn:
        ids = _next_ids(conn)
        counters = {row.year: row.last for row in conn.execute(select(CaseCounter.__table__))}
        new_counters = dict(counters)
        for i, created in enumerate(times):
            cat = rng.choices(cats, weights)[0]
            rec = rng.choice(by_cat[cat])
            kanaal = {"partner": "email"}.get(rec.get("channel") or "email", rec.get("channel") or "email")
            if kanaal not in ("email", "chat", "phone"):
                kanaal = "email"
            domains = sorted(d for d in rec.get("domains") or [])
            fields = dict(rec.get("fields") or {})
            age_days = (now - created).total_seconds() / 86400
            # the triage as the labels give it, with a plausible confidence
            confidence = round(rng.uniform(0.35, 0.99), 3)
            answer_id = answer_score = None
            if cat == "info_advies":
                fit = [a for a, d in answers if d & set(domains)] or [a for a, _ in answers]
                if fit and rng.random() < 0.8:
                    answer_id, answer_score = rng.choice(fit), round(rng.uniform(0.2, 0.95), 3)
            decision = decide({"category": cat, "domains": domains, "confidence": confidence, "answer_id": answer_id,
                               "answer_score": answer_score, "probabilities": {"crisis": rng.uniform(0, 0.12)}},
                              muni.routing, muni.destinations)
            route = decision.route
            wijk = muni.wijk_for_postcode(fields.get("postcode")) if fields.get("postcode") else (
                rng.choice(sorted(set(muni.postcode_wijk.values()))) if muni.postcode_wijk and rng.random() < 0.6
                else None)

            year = created.year
            new_counters[year] = new_counters.get(year, 0) + 1
            number = f"SWT-{year}-{new_counters[year]:06d}"
            case_id = ids[Case] + i
            msg_id = ids[InboundRecord] + i

            sender = sender_name = None
            if kanaal == "email":
                sender = fields.get("email") or f"inwoner{seed}x{i}@example.nl"
                sender_name = fields.get("naam")
            subject = (rec.get("subject") or "Vraag aan het wijkteam") if kanaal == "email" else ""
            body = rec["text"]
            if kanaal == "email":
                cmid = f"seed-{seed}-{i}@example.nl"
                key = f"<{cmid}>"
                raw = _raw_mail(sender, sender_name, subject, body, cmid, created, wijkteam_mail)
            elif kanaal == "chat":
                cmid = f"webchat:seed{seed}x{i:06d}{rng.randrange(16 ** 8):08x}"
                key = f"{cmid}:1"
                raw = None
            else:
                cmid = key = f"phone:seed-{seed}-{i}"
                raw = None

            # what happened to the case since
            queue = queue_for(route)
            status = "answered" if route == "auto_answer" else "open"
            review = reviewed_by = reviewed_at = None
            accepted_by = accepted_at = assigned_to = remark = indicatie = closed_at = None
            priority, destination = decision.priority, decision.destination
            category = cat
            updated_at = None
            p_open = 0.9 if age_days < 3 else 0.5 if age_days < 14 else 0.1 if age_days < 60 else 0.02
            still_open = rng.random() < p_open
            actor_kcc, actor_bd = rng.choice(KCC_AGENTS), rng.choice(BUREAU_AGENTS)
            step = created + timedelta(minutes=rng.randint(5, 600))
            step = min(step, now)
            corrected = []
            if queue == "kcc" and route == "kcc_review" and (not still_open or rng.random() < 0.3):
                # the KCC reviewed it: accepted, corrected or forwarded
                r = rng.random()
                reviewed_by, reviewed_at = actor_kcc, step
                if cat in ("enkelvoudig", "meervoudig") and r < 0.6:
                    review, queue, route = "forwarded", "bureaudienst", "bureaudienst"
                    ev(step, actor_kcc, "case_forwarded", case_id, remark=False)
                elif r < 0.2 and cat == "info_advies":
                    new_cat = rng.choice(("enkelvoudig", "meervoudig"))
                    corrected.append(("category", cat, new_cat))
                    category, route, review, queue = new_cat, "bureaudienst", "corrected", "bureaudienst"
                    priority, destination = "normaal", muni.destinations.get("default", "Sociaal Wijkteam")
                    ev(step, actor_kcc, "case_corrected", case_id, changed=["category"], category=new_cat,
                       domains=domains, route=route)
                elif kanaal != "phone" and cat == "info_advies":
                    review, status = "answered", "answered"
                    ev(step, actor_kcc, "answer_sent", case_id, kanaal=kanaal if kanaal == "email" else "webchat")
                else:
                    review = "accepted"
                    queue = queue_for(route)
                    ev(step, actor_kcc, "route_accepted", case_id, route=route, category=cat)
                if rng.random() < 0.15 and review != "corrected":
                    extra = rng.choice([d for d in ("jeugd", "ggz", "schulden", "wonen", "wmo") if d not in domains])
                    corrected.append(("domains", list(domains), sorted([*domains, extra])))
                    domains = sorted([*domains, extra])
                    ev(step, actor_kcc, "case_corrected", case_id, changed=["domains"], category=category,
                       domains=domains, route=route)
            if queue == "bureaudienst" and not still_open:
                when = min(step + timedelta(hours=rng.uniform(0.2, 30)), now)
                if rng.random() < 0.08 and category != "crisis":
                    queue, route, status, review = "kcc", "kcc_review", "open", None
                    remark = "Geen hulpvraag voor het wijkteam: graag standaardinformatie sturen."
                    ev(when, actor_bd, "case_returned", case_id)
                else:
                    assigned_to = rng.choice(WIJKTEAM)
                    status, accepted_by, accepted_at = "accepted", actor_bd, when
                    ev(when, actor_bd, "case_accepted", case_id, assigned_to=assigned_to)
                    if rng.random() < 0.3 and "telefoon" not in fields:
                        old = fields.get("telefoon")
                        fields["telefoon"] = f"06{rng.randrange(10 ** 8):08d}"
                        corrected.append(("startformulier.telefoon", old, fields["telefoon"]))
                        ev(when, actor_bd, "startformulier_changed", case_id, changed=["telefoon"])
                    if age_days > 10 and rng.random() < 0.85:
                        status, indicatie = "closed", rng.random() < 0.55
                        closed_at = min(when + timedelta(days=rng.uniform(1, 20)), now)
                        ev(closed_at, actor_bd, "case_closed", case_id, indicatie=indicatie)
            elif queue == "kcc" and not still_open and remark is None:
                # answered in writing or called back, then closed
                closed_at = min(step + timedelta(days=rng.uniform(0.1, 5)), now)
                status = "closed"
                ev(closed_at, rng.choice(KCC_AGENTS), "case_closed", case_id, indicatie=None)
            if rng.random() < 0.25:
                ev(min(step + timedelta(minutes=3), now), actor_bd if queue == "bureaudienst" else actor_kcc,
                   "case_viewed", case_id)
            if review or accepted_by or closed_at:
                updated_at = max(x for x in (reviewed_at, accepted_at, closed_at, step) if x is not None)
            if cat == "crisis":
                priority, destination = "spoed", "Bureaudienst (crisis)"

            triage_dict = {"id": str(msg_id), "category": cat, "domains": list(rec.get("domains") or []),
                           "confidence": confidence, "fields": dict(rec.get("fields") or {}),
                           "consent": rec.get("consent", "onbekend"), "route": decision.route, "answer_id": answer_id,
                           "reasons": list(decision.reasons), "probabilities": {}, "domain_scores": {},
                           "evidence": {}, "answer_score": answer_score, "priority": decision.priority,
                           "destination": decision.destination, "wijk": wijk}
            rows[InboundRecord].append({
                "id": msg_id, "kanaal": kanaal, "channel_message_id": cmid, "idempotency_key": key,
                "afzender": sender, "afzender_naam": sender_name, "onderwerp": subject, "inhoud": body, "raw": raw,
                "in_reply_to": None, "references": [], "auto_reply": None, "problems": [], "received_at": created,
                "status": "triaged", "triage": triage_dict, "case_id": case_id})
            rows[Case].append({
                "id": case_id, "number": number, "created_at": created, "kanaal": kanaal, "category": category,
                "domains": domains, "confidence": confidence, "route": route, "priority": priority,
                "destination": destination, "answer_id": answer_id, "reasons": list(decision.reasons),
                "status": status, "afzender": sender, "wijk": wijk, "related_case_id": None, "closed_at": closed_at,
                "anonymised_at": None, "queue": queue, "review": review, "reviewed_by": reviewed_by,
                "reviewed_at": reviewed_at, "assigned_to": assigned_to, "accepted_by": accepted_by,
                "accepted_at": accepted_at, "remark": remark, "indicatie": indicatie, "updated_at": updated_at})
            hulpvraag = " ".join(body.split())
            if len(hulpvraag) > 300:
                hulpvraag = hulpvraag[:300].rsplit(" ", 1)[0] + " …"
            rows[Startformulier].append({
                "id": ids[Startformulier] + i, "case_id": case_id, "fields": fields, "evidence": {},
                "consent": rec.get("consent", "onbekend"), "hulpvraag": hulpvraag, "updated_at": updated_at or created})
            for fld, old, new in corrected:
                rows[Correction].append({"at": step, "actor": actor_kcc if not fld.startswith("startformulier")
                                         else actor_bd, "case_id": case_id, "field": fld, "old": old, "new": new})
            ev(created, "smtp" if kanaal == "email" else ("webchat" if kanaal == "chat" else "kcc"),
               "message_received", None, msg_id, kanaal=kanaal, auto_reply=None, attachments=0)
            ev(created, "system" if kanaal != "chat" else "webchat", "case_created", case_id, msg_id,
               category=cat, route=decision.route, related_case=None)
            if kanaal == "email":
                kind = "crisis" if cat == "crisis" else ("answer" if decision.route == "auto_answer" else "ack")
                rows[OutboundRecord].append({
                    "case_id": case_id, "kanaal": "email", "to": sender, "subject": f"[{number}] Re: {subject}",
                    "body": f"Wij hebben uw bericht goed ontvangen. Uw zaaknummer is {number}.",
                    "message_id": f"seed-reply-{seed}-{i}@{domain}", "in_reply_to": cmid, "references": [cmid],
                    "kind": kind, "status": "sent", "created_at": created, "sent_at": created + timedelta(seconds=3),
                    "attempts": 1, "last_error": None})
                ev(created, "system", "reply_queued", case_id, kind=kind, status="pending")
                ev(created + timedelta(seconds=3), "system", "reply_sent", case_id, attempt=1)
            elif kanaal == "chat":
                ext = cmid.split(":", 1)[1]
                rows[Conversation].append({
                    "kanaal": "webchat", "external_id": ext, "state": _chat_state(cmid, number, body, created),
                    "case_id": case_id, "since_message_id": None, "status": "klaar", "created_at": created,
                    "updated_at": created})
            examples.setdefault(f"{queue}:{status}", [])
            if len(examples[f"{queue}:{status}"]) < 5:
                examples[f"{queue}:{status}"].append(number)

        for model in (Case, InboundRecord, Startformulier, Correction, OutboundRecord, Conversation, Event):
            batch = rows[model]
            for k in range(0, len(batch), 5000):
                conn.execute(insert(model.__table__), batch[k:k + 5000])
        for year, last in new_counters.items():
            if year in counters:
                conn.execute(CaseCounter.__table__.update().where(CaseCounter.__table__.c.year == year)
                             .values(last=last))
            else:
                conn.execute(insert(CaseCounter.__table__), [{"year": year, "last": last}])
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for model in (InboundRecord, Case, Startformulier, Event, Correction, OutboundRecord, Conversation):
                t = model.__table__.name
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), "
                                  f"(SELECT COALESCE(max(id), 1) FROM \"{t}\"))"))
    by_queue: dict[str, int] = {}
    for c in rows[Case]:
        k = f"{c['queue']}:{c['status']}"
        by_queue[k] = by_queue.get(k, 0) + 1
    return {"cases": n, "messages": len(rows[InboundRecord]), "events": len(rows[Event]),
            "corrections": len(rows[Correction]), "replies": len(rows[OutboundRecord]),
            "conversations": len(rows[Conversation]), "by_queue_status": dict(sorted(by_queue.items())),
            "examples": examples, "seconds": round(time.perf_counter() - t0, 2)}


def _chat_state(conversation_id: str, number: str, text: str, created: datetime) -> dict:
    """The state the conversation engine stores for a finished chat."""
    from triage.conversation import KLAAR, ConversationState

    st = ConversationState(conversation_id=conversation_id, channel="chat", step=KLAAR, case_number=number,
                           questions=[text], messages=1, created_at=created.timestamp(),
                           updated_at=created.timestamp())
    st.transcript = [("inwoner", text)]
    return st.to_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default=None, help="database URL (default: TRIAGE_DB_URL or the default SQLite file)")
    ap.add_argument("-n", type=int, default=10_000, help="number of cases (default 10,000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same cases)")
    ap.add_argument("--weeks", type=int, default=WEEKS, help="spread the cases over this many weeks")
    args = ap.parse_args(argv)
    from triage.config import get_settings

    url = args.db_url or get_settings().database_url()
    store = Store(url)
    store.migrate()
    out = seed(store, n=args.n, seed=args.seed, weeks=args.weeks)
    store.engine.dispose()
    out.pop("examples")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
