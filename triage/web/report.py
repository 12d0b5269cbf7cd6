"""The beheer figures: pure aggregation over plain rows, no database, no web.

One row per case, a mapping with (only) these keys:

    created_at  datetime (UTC; naive counts as UTC)
    kanaal      email | phone | chat | partner
    category    info_advies | enkelvoudig | meervoudig | crisis
    domains     list of domain names
    wijk        the case's wijk or None
    review      the KCC's review: accepted | corrected | forwarded | answered | None
    route       auto_answer | kcc_review | bureaudienst | crisis
    status      open | answered | accepted | closed
    indicatie   True when the bureaudienst closed the case "met indicatie"
    aanmelder   the startformulier's aanmelder (inwoner | naaste | partner | ...) or None

No row holds a text, a name, an address or a number of a resident: beheer
sees counts only.

    weeks_ending(today, n)            the n ISO weeks up to and including today's (Europe/Amsterdam)
    weekly(rows, weeks, wijken)       the dashboard's series per week, and the totals
                                      (= weekly_from_counts(tally(rows, weeks), ...): the console
                                      gets the same counts from GROUP BY queries)
    pilot_tables(rows)                the pilot evaluation's two tables
    weekly_csv(...), report_csv(...)  the same as CSV for Dutch Excel (UTF-8 with BOM, ';')
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

__all__ = ["TZ", "Week", "weeks_ending", "local_date", "period_bounds", "week_bounds", "tally", "weekly",
           "weekly_from_counts", "pilot_tables", "weekly_csv",
           "report_csv", "percent", "KANALEN", "CATEGORIES", "DOMAINS", "UNKNOWN_WIJK", "CHANNEL_ROWS", "NATURE_ROWS"]

TZ = ZoneInfo("Europe/Amsterdam")
UNKNOWN_WIJK = "onbekend"
KANALEN = {"email": "Mail", "phone": "Telefoon", "chat": "Chat", "partner": "Partner"}
CATEGORIES = {"info_advies": "Informatie en advies", "enkelvoudig": "Enkelvoudig", "meervoudig": "Meervoudig",
              "crisis": "Crisis"}
DOMAINS = {"jeugd": "Jeugd", "ggz": "GGZ", "schulden": "Schulden", "werk_inkomen": "Werk en inkomen", "wmo": "Wmo",
           "wonen": "Wonen", "veiligheid": "Veiligheid", "verslaving": "Verslaving"}
MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")

# the pilot evaluation's tables: (key, name) in the order of the report
CHANNEL_ROWS = (("mail", "Mail"), ("partners", "Partners"), ("telefoon", "Telefoon"), ("chat", "Chat"))
NATURE_ROWS = (("info_advies", "Informatie en advies"),
               ("enkelvoudig_met", "Enkelvoudig met indicatie"), ("enkelvoudig_zonder", "Enkelvoudig zonder indicatie"),
               ("meervoudig_met", "Meervoudig met indicatie"), ("meervoudig_zonder", "Meervoudig zonder indicatie"),
               ("crisis", "Crisis"))
_KANAAL_ROW = {"email": "mail", "phone": "telefoon", "chat": "chat", "partner": "partners"}


# ------------------------------------------------------------------ time
def local_date(when: datetime) -> date:
    """The calendar date in Europe/Amsterdam of a stored (UTC) time."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(TZ).date()


@dataclass(frozen=True)
class Week:
    """An ISO week (Monday to Sunday, Europe/Amsterdam)."""

    year: int
    number: int
    start: date  # the Monday

    @classmethod
    def of(cls, d: date) -> "Week":
        y, w, _ = d.isocalendar()
        return cls(y, w, d - timedelta(days=d.weekday()))

    @property
    def end(self) -> date:  # the Sunday
        return self.start + timedelta(days=6)

    @property
    def key(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def label(self) -> str:
        return f"wk {self.number}"

    @property
    def span(self) -> str:
        """'16–22 nov', '28 dec–3 jan'."""
        a, b = self.start, self.end
        if a.month == b.month:
            return f"{a.day}–{b.day} {MONTHS[b.month - 1]}"
        return f"{a.day} {MONTHS[a.month - 1]}–{b.day} {MONTHS[b.month - 1]}"


def weeks_ending(today: date, n: int) -> list[Week]:
    """The ``n`` ISO weeks up to and including the week of ``today``, oldest first."""
    last = Week.of(today)
    return [Week.of(last.start - timedelta(weeks=k)) for k in range(n - 1, -1, -1)]


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC [start, end) of the local days ``first`` to ``last`` inclusive (for the query)."""
    start = datetime.combine(first, time.min, TZ).astimezone(timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time.min, TZ).astimezone(timezone.utc)
    return start, end


def percent(part: int, whole: int) -> float | None:
    """part/whole as a fraction, None when whole is 0 (nothing to divide)."""
    return part / whole if whole else None


# ------------------------------------------------------------------ dashboard
def wijk_names(configured: Iterable[str], rows: Iterable[Mapping] = ()) -> list[str]:
    """The wijken to show: the configured ones (in order, once), any other
    wijk found in the rows (alphabetical), and 'onbekend' last."""
    out = list(dict.fromkeys(w for w in configured if w))
    extra = sorted({r.get("wijk") for r in rows if r.get("wijk")} - set(out))
    return [w for w in out + extra if w != UNKNOWN_WIJK] + [UNKNOWN_WIJK]


def week_bounds(weeks: list[Week]) -> list[datetime]:
    """The UTC instants where the weeks begin, and where the last one ends
    (len(weeks) + 1): week i is [bounds[i], bounds[i + 1]). For a query."""
    out = [period_bounds(w.start, w.start)[0] for w in weeks]
    return out + [period_bounds(weeks[-1].end, weeks[-1].end)[1]] if weeks else []


def tally(rows: Iterable[Mapping], weeks: list[Week]) -> dict:
    """Count per-case rows into the shape ``weekly_from_counts`` reads (the
    same shape the console's GROUP BY queries give):

        {"main":    {(week index, kanaal, category, review, route): n},
         "domains": {(week index, sorted tuple of the case's domains): n},
         "wijk":    {(week index, wijk or None): n}}

    Rows outside the weeks are left out. A case counts in the week it came in."""
    index = {w.key: i for i, w in enumerate(weeks)}
    main: dict = {}
    doms: dict = {}
    wijk: dict = {}
    for r in rows:
        i = index.get(Week.of(local_date(r["created_at"])).key)
        if i is None:
            continue
        k = (i, r.get("kanaal"), r.get("category"), r.get("review"), r.get("route"))
        main[k] = main.get(k, 0) + 1
        d = (i, tuple(sorted(set(r.get("domains") or ()))))
        doms[d] = doms.get(d, 0) + 1
        w = (i, r.get("wijk") or None)
        wijk[w] = wijk.get(w, 0) + 1
    return {"main": main, "domains": doms, "wijk": wijk}


def weekly(rows: Iterable[Mapping], weeks: list[Week], wijken: Iterable[str] = ()) -> dict:
    """The dashboard's series from per-case rows (see weekly_from_counts)."""
    return weekly_from_counts(tally(rows, weeks), weeks, wijken)


def weekly_from_counts(counts: dict, weeks: list[Week], wijken: Iterable[str] = ()) -> dict:
    """The dashboard's series: for each week (index as in ``weeks``) the
    number of questions, per kanaal, category, domain (a case counts once
    for each of its domains) and wijk (none: 'onbekend'); the KCC's reviews
    (accepted without correction, corrected; the agreement rate is accepted
    / (accepted + corrected), None for a week without reviews) and the
    auto-answer rate (route auto_answer / all, None for an empty week).
    ``counts``: as ``tally`` makes them."""
    n = len(weeks)
    wijk_list = wijk_names(wijken, ({"wijk": w} for (_, w) in counts["wijk"]))

    def zeros() -> list[int]:
        return [0] * n

    total, reviewed, accepted, corrected, auto = zeros(), zeros(), zeros(), zeros(), zeros()
    kanaal = {k: zeros() for k in KANALEN}
    category = {k: zeros() for k in CATEGORIES}
    domain = {k: zeros() for k in DOMAINS}
    wijk = {k: zeros() for k in wijk_list}
    other = {"kanaal": zeros(), "category": zeros()}
    for (i, k, c, rv, route), m in counts["main"].items():
        if not 0 <= i < n:
            continue
        total[i] += m
        (kanaal[k] if k in kanaal else other["kanaal"])[i] += m
        (category[c] if c in category else other["category"])[i] += m
        if rv == "accepted":
            accepted[i] += m
            reviewed[i] += m
        elif rv == "corrected":
            corrected[i] += m
            reviewed[i] += m
        if route == "auto_answer":
            auto[i] += m
    for (i, ds), m in counts["domains"].items():
        if 0 <= i < n:
            for d in set(ds):
                if d in domain:
                    domain[d][i] += m
    for (i, w), m in counts["wijk"].items():
        if 0 <= i < n:
            wijk[w or UNKNOWN_WIJK][i] += m
    if any(other["kanaal"]):
        kanaal["overig"] = other["kanaal"]
    if any(other["category"]):
        category["overig"] = other["category"]
    # a kanaal no case used (e.g. 'partner' as medium) is left out of the charts
    kanaal = {k: v for k, v in kanaal.items() if any(v) or k in ("email", "phone", "chat")}
    totals = {
        "total": sum(total), "reviewed": sum(reviewed), "accepted": sum(accepted), "corrected": sum(corrected),
        "auto_answer": sum(auto), "agreement": percent(sum(accepted), sum(reviewed)),
        "auto_answer_rate": percent(sum(auto), sum(total)),
        "kanaal": {k: sum(v) for k, v in kanaal.items()}, "category": {k: sum(v) for k, v in category.items()},
        "domain": {k: sum(v) for k, v in domain.items()}, "wijk": {k: sum(v) for k, v in wijk.items()},
    }
    return {
        "weeks": weeks, "total": total, "kanaal": kanaal, "category": category, "domain": domain, "wijk": wijk,
        "reviewed": reviewed, "accepted": accepted, "corrected": corrected,
        "agreement": [percent(a, b) for a, b in zip(accepted, reviewed)],
        "auto_answer": auto, "auto_answer_rate": [percent(a, b) for a, b in zip(auto, total)],
        "totals": totals,
    }


# ------------------------------------------------------------------ pilot report
def pilot_tables(rows: Iterable[Mapping]) -> dict:
    """The pilot evaluation's two tables.

    1. Binnengekomen vragen per kanaal: mail, partners, telefoon, chat.
       'partners' are the cases a partner organisation reported (the
       startformulier's aanmelder is 'partner'), whatever the medium; the
       others count by their kanaal.
    2. Aard van de vragen: informatie en advies; enkelvoudig and meervoudig,
       each met indicatie (indicatie is True: ticked by the bureaudienst at
       closing) and zonder (everything else, also cases not closed yet); crisis.

    A row may stand for several cases with the same values: ``n`` (default 1).

    Returns {"channels": [(key, name, n)], "nature": [(key, name, n)],
    "total", "open_without": enkelvoudig/meervoudig not closed yet (counted
    as zonder indicatie)}. A row 'overig' is added only when some case fits
    no row (an unknown kanaal or category)."""
    ch = {k: 0 for k, _ in CHANNEL_ROWS}
    na = {k: 0 for k, _ in NATURE_ROWS}
    other_ch = other_na = open_without = total = 0
    for r in rows:
        m = r.get("n", 1)
        total += m
        if r.get("aanmelder") == "partner":
            ch["partners"] += m
        elif r.get("kanaal") in _KANAAL_ROW:
            ch[_KANAAL_ROW[r["kanaal"]]] += m
        else:
            other_ch += m
        c = r.get("category")
        if c in ("enkelvoudig", "meervoudig"):
            met = r.get("indicatie") is True
            na[f"{c}_{'met' if met else 'zonder'}"] += m
            if not met and r.get("status") != "closed":
                open_without += m
        elif c in na:
            na[c] += m
        else:
            other_na += m
    channels = [(k, name, ch[k]) for k, name in CHANNEL_ROWS]
    nature = [(k, name, na[k]) for k, name in NATURE_ROWS]
    if other_ch:
        channels.append(("overig", "Overig", other_ch))
    if other_na:
        nature.append(("overig", "Overig", other_na))
    return {"channels": channels, "nature": nature, "total": total, "open_without": open_without}


# ------------------------------------------------------------------ CSV
def _pct_text(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.1f}".replace(".", ",")


def _cell(v) -> str:
    """A CSV cell; text that Excel would read as a formula gets a leading quote."""
    s = "" if v is None else str(v)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(s):
        return "'" + s
    return s


def _is_number(s: str) -> bool:
    try:
        float(s.replace(",", "."))
        return True
    except ValueError:
        return False


def _csv(lines: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    for line in lines:
        w.writerow([_cell(v) for v in line])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def report_csv(tables: dict, first: date, last: date) -> bytes:
    """Both pilot tables in one CSV for Dutch Excel (UTF-8 with BOM, ';',
    percentages with a decimal comma)."""
    total = tables["total"]
    lines: list[list] = [["Rapportage Sociaal Wijkteam", f"van {first.isoformat()} tot en met {last.isoformat()}"], []]
    lines += [["Binnengekomen vragen per kanaal"], ["Kanaal", "Aantal", "Aandeel (%)"]]
    lines += [[name, n, _pct_text(percent(n, total))] for _, name, n in tables["channels"]]
    lines += [["Totaal", total, _pct_text(1.0 if total else None)], []]
    lines += [["Aard van de vragen"], ["Aard", "Aantal", "Aandeel (%)"]]
    lines += [[name, n, _pct_text(percent(n, total))] for _, name, n in tables["nature"]]
    lines += [["Totaal", total, _pct_text(1.0 if total else None)], []]
    lines += [["Enkelvoudig of meervoudig, nog niet gesloten (telt als zonder indicatie)", tables["open_without"]],
              ["Met indicatie: de bureaudienst heeft dit aangevinkt bij het sluiten van de zaak."]]
    return _csv(lines)


def weekly_csv(series: dict, wijk_label=lambda w: w) -> bytes:
    """The weekly series: one line per week, one column per figure."""
    head = ["Week", "Van", "Tot en met", "Vragen"]
    cols: list[list] = []
    for group, names, title in (("kanaal", KANALEN, "Kanaal"), ("category", CATEGORIES, "Categorie"),
                                ("domain", DOMAINS, "Domein")):
        for k, v in series[group].items():
            head.append(f"{title}: {names.get(k, 'overig' if k == 'overig' else k)}")
            cols.append(v)
    for k, v in series["wijk"].items():
        head.append(f"Wijk: {wijk_label(k)}")
        cols.append(v)
    head += ["Beoordeeld door KCC", "Akkoord zonder verbetering", "Verbeterd", "Akkoord (%)",
             "Standaardantwoord", "Standaardantwoord (%)"]
    lines: list[list] = [head]
    for i, w in enumerate(series["weeks"]):
        lines.append([w.key, w.start.isoformat(), w.end.isoformat(), series["total"][i], *[c[i] for c in cols],
                      series["reviewed"][i], series["accepted"][i], series["corrected"][i],
                      _pct_text(series["agreement"][i]), series["auto_answer"][i],
                      _pct_text(series["auto_answer_rate"][i])])
    return _csv(lines)
