"""The beheer figures as pure logic over plain dict rows (triage/web/report.py):
ISO weeks in Europe/Amsterdam, the weekly series, the pilot tables and the
CSV for Dutch Excel."""

import csv
import io
from datetime import date, datetime, timedelta, timezone

from triage.web import report
from triage.web.report import Week, pilot_tables, weekly, weeks_ending


def row(created_at, **kw):
    base = {"created_at": created_at, "kanaal": "email", "category": "info_advies", "domains": [], "wijk": None,
            "review": None, "route": "kcc_review", "status": "open", "indicatie": None, "aanmelder": "inwoner"}
    return {**base, **kw}


UTC = timezone.utc


# ------------------------------------------------------------------ weeks
def test_weeks_are_iso_weeks_in_amsterdam_time():
    # Sunday 23:30 UTC in summer is Monday 01:30 in Amsterdam: the next ISO week
    sunday_late = datetime(2026, 6, 14, 23, 30, tzinfo=UTC)
    assert report.local_date(sunday_late) == date(2026, 6, 15)
    assert Week.of(report.local_date(sunday_late)).key == "2026-W25"
    # naive times are UTC (as the store keeps them); winter: +1 hour
    assert report.local_date(datetime(2026, 1, 4, 22, 59)) == date(2026, 1, 4)
    assert report.local_date(datetime(2026, 1, 4, 23, 0)) == date(2026, 1, 5)
    # ISO year differs from the calendar year around New Year
    assert Week.of(date(2026, 12, 31)).key == "2026-W53"
    assert Week.of(date(2027, 1, 3)).key == "2026-W53"
    assert Week.of(date(2024, 12, 30)).key == "2025-W01"
    w = Week.of(date(2026, 11, 18))
    assert (w.start, w.end, w.label, w.span) == (date(2026, 11, 16), date(2026, 11, 22), "wk 47", "16–22 nov")
    assert Week.of(date(2026, 12, 30)).span == "28 dec–3 jan"


def test_weeks_ending_gives_n_consecutive_weeks_oldest_first():
    ws = weeks_ending(date(2027, 1, 6), 4)
    assert [w.key for w in ws] == ["2026-W51", "2026-W52", "2026-W53", "2027-W01"]
    assert all(b.start - a.start == timedelta(weeks=1) for a, b in zip(ws, ws[1:]))
    assert len(weeks_ending(date(2026, 11, 24), 52)) == 52


def test_period_bounds_are_local_midnights_in_utc():
    start, end = report.period_bounds(date(2026, 3, 1), date(2026, 3, 31))
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # CET
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # CEST after the clocks changed on 29 March


# ------------------------------------------------------------------ weekly series
def test_weekly_counts_per_channel_category_domain_wijk_and_rates():
    ws = weeks_ending(date(2026, 11, 18), 2)  # W46, W47
    w46 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    w47 = datetime(2026, 11, 17, 9, tzinfo=UTC)
    rows = [
        row(w46, kanaal="email", category="enkelvoudig", domains=["wmo"], wijk="Centrum", review="accepted",
            route="bureaudienst"),
        row(w46, kanaal="phone", category="meervoudig", domains=["schulden", "jeugd"], wijk="Julianadorp",
            review="corrected", route="bureaudienst"),
        row(w46, kanaal="chat", category="info_advies", domains=["wonen"], route="auto_answer"),
        row(w47, kanaal="email", category="crisis", domains=["ggz", "ggz"], wijk="Centrum", route="crisis"),
        row(w47, kanaal="email", category="info_advies", review="accepted", route="kcc_review"),
        row(w47, kanaal="chat", category="info_advies", review="forwarded", route="auto_answer"),
        row(datetime(2026, 11, 1, tzinfo=UTC)),  # before the period: left out
        row(datetime(2026, 11, 30, tzinfo=UTC)),  # after
    ]
    s = weekly(rows, ws, ["Centrum", "De Schooten", "Julianadorp"])
    assert s["total"] == [3, 3]
    assert s["kanaal"] == {"email": [1, 2], "phone": [1, 0], "chat": [1, 1]}
    assert s["category"] == {"info_advies": [1, 2], "enkelvoudig": [1, 0], "meervoudig": [1, 0], "crisis": [0, 1]}
    assert s["domain"]["schulden"] == [1, 0] and s["domain"]["jeugd"] == [1, 0]
    assert s["domain"]["ggz"] == [0, 1]  # a domain listed twice counts once
    assert s["domain"]["veiligheid"] == [0, 0]
    # configured wijken first (also when empty), unknown last
    assert list(s["wijk"]) == ["Centrum", "De Schooten", "Julianadorp", "onbekend"]
    assert s["wijk"] == {"Centrum": [1, 1], "De Schooten": [0, 0], "Julianadorp": [1, 0], "onbekend": [1, 2]}
    # agreement: accepted / (accepted + corrected); forwarded does not count
    assert s["reviewed"] == [2, 1] and s["accepted"] == [1, 1] and s["corrected"] == [1, 0]
    assert s["agreement"] == [0.5, 1.0]
    assert s["auto_answer"] == [1, 1]
    assert s["auto_answer_rate"] == [1 / 3, 1 / 3]
    t = s["totals"]
    assert (t["total"], t["reviewed"], t["accepted"], t["corrected"], t["auto_answer"]) == (6, 3, 2, 1, 2)
    assert t["agreement"] == 2 / 3 and t["auto_answer_rate"] == 2 / 6
    assert t["kanaal"] == {"email": 3, "phone": 1, "chat": 2}
    assert t["wijk"]["onbekend"] == 3


def test_weekly_without_data_has_zeros_and_no_rates():
    ws = weeks_ending(date(2026, 11, 18), 4)
    s = weekly([], ws, [])
    assert s["total"] == [0, 0, 0, 0]
    assert s["agreement"] == [None] * 4 and s["auto_answer_rate"] == [None] * 4
    assert s["totals"]["agreement"] is None and s["totals"]["auto_answer_rate"] is None
    assert s["wijk"] == {"onbekend": [0, 0, 0, 0]}
    assert set(s["kanaal"]) == {"email", "phone", "chat"}


def test_weekly_keeps_unknown_values_visible():
    ws = weeks_ending(date(2026, 11, 18), 1)
    when = datetime(2026, 11, 17, 9, tzinfo=UTC)
    s = weekly([row(when, kanaal="partner", wijk="Elders"), row(when, kanaal="fax", category="raar"),
                row(when, domains=None, wijk="")], ws, ["Centrum"])
    assert s["kanaal"]["partner"] == [1] and s["kanaal"]["overig"] == [1]
    assert s["category"]["overig"] == [1] and s["category"]["info_advies"] == [2]
    assert list(s["wijk"]) == ["Centrum", "Elders", "onbekend"] and s["wijk"]["onbekend"] == [2]
    assert s["total"] == [3]


# ------------------------------------------------------------------ pilot tables
def test_pilot_tables_count_partners_by_aanmelder_and_split_indicatie():
    when = datetime(2026, 5, 1, tzinfo=UTC)
    rows = [
        row(when, kanaal="email"),
        row(when, kanaal="email", aanmelder="partner"),  # a partner's mail counts as partner, not as mail
        row(when, kanaal="phone", aanmelder="partner"),
        row(when, kanaal="phone", aanmelder="naaste"),
        row(when, kanaal="chat", aanmelder=None),
        row(when, kanaal="partner", aanmelder=None),  # the partner channel itself
        row(when, category="enkelvoudig", indicatie=True, status="closed"),
        row(when, category="enkelvoudig", indicatie=False, status="closed"),
        row(when, category="enkelvoudig", indicatie=None, status="accepted"),  # not closed yet: zonder
        row(when, category="meervoudig", indicatie=True, status="closed"),
        row(when, category="meervoudig", indicatie=True, status="closed"),
        row(when, category="meervoudig", indicatie=None, status="open"),
        row(when, category="crisis"),
    ]
    t = pilot_tables(rows)
    ch = {k: n for k, _, n in t["channels"]}
    assert [k for k, _, _ in t["channels"]] == ["mail", "partners", "telefoon", "chat"]
    assert ch == {"mail": 1 + 7, "partners": 3, "telefoon": 1, "chat": 1}
    na = {k: n for k, _, n in t["nature"]}
    assert [k for k, _, _ in t["nature"]] == ["info_advies", "enkelvoudig_met", "enkelvoudig_zonder", "meervoudig_met",
                                              "meervoudig_zonder", "crisis"]
    assert na == {"info_advies": 6, "enkelvoudig_met": 1, "enkelvoudig_zonder": 2, "meervoudig_met": 2,
                  "meervoudig_zonder": 1, "crisis": 1}
    assert t["total"] == len(rows) == sum(ch.values()) == sum(na.values())
    assert t["open_without"] == 2


def test_pilot_tables_without_data_and_with_unknown_values():
    t = pilot_tables([])
    assert t["total"] == 0 and all(n == 0 for _, _, n in t["channels"] + t["nature"])
    assert len(t["channels"]) == 4 and len(t["nature"]) == 6  # no 'overig' rows when nothing fits there
    t = pilot_tables([row(datetime(2026, 5, 1), kanaal="fax", category="raar")])
    assert t["channels"][-1] == ("overig", "Overig", 1) and t["nature"][-1] == ("overig", "Overig", 1)
    assert t["total"] == 1


# ------------------------------------------------------------------ CSV
def _read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_report_csv_holds_both_tables_for_dutch_excel():
    when = datetime(2026, 5, 1, tzinfo=UTC)
    t = pilot_tables([row(when), row(when, aanmelder="partner"), row(when, category="enkelvoudig", indicatie=True)])
    lines = _read(report.report_csv(t, date(2026, 1, 1), date(2026, 6, 30)))
    assert lines[0] == ["Rapportage Sociaal Wijkteam", "van 2026-01-01 tot en met 2026-06-30"]
    i = lines.index(["Binnengekomen vragen per kanaal"])
    assert lines[i + 1] == ["Kanaal", "Aantal", "Aandeel (%)"]
    assert lines[i + 2] == ["Mail", "2", "66,7"] and lines[i + 3] == ["Partners", "1", "33,3"]
    assert ["Totaal", "3", "100,0"] in lines
    j = lines.index(["Aard van de vragen"])
    body = {l[0]: l[1] for l in lines[j + 2:j + 9] if len(l) > 1}
    assert body["Informatie en advies"] == "2" and body["Enkelvoudig met indicatie"] == "1"
    assert body["Crisis"] == "0" and body["Totaal"] == "3"


def test_weekly_csv_one_line_per_week_and_no_formula_cells():
    ws = weeks_ending(date(2026, 11, 18), 2)
    s = weekly([row(datetime(2026, 11, 17, 9, tzinfo=UTC), wijk="=HYPERLINK(1)", review="accepted")], ws, [])
    lines = _read(report.weekly_csv(s))
    head = lines[0]
    assert head[:4] == ["Week", "Van", "Tot en met", "Vragen"]
    assert "Kanaal: Mail" in head and "Categorie: Crisis" in head and "Domein: Werk en inkomen" in head
    assert "Wijk: onbekend" in head and "Akkoord (%)" in head
    assert "Wijk: =HYPERLINK(1)" in head  # starts with 'Wijk:', so Excel reads it as text
    assert report._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and report._cell("@SUM(A1)") == "'@SUM(A1)"
    assert report._cell("-3") == "-3" and report._cell(12) == "12" and report._cell(None) == ""
    assert [l[0] for l in lines[1:]] == ["2026-W46", "2026-W47"]
    last = dict(zip(head, lines[2]))
    assert last["Vragen"] == "1" and last["Akkoord (%)"] == "100,0" and last["Van"] == "2026-11-16"
    first = dict(zip(head, lines[1]))
    assert first["Vragen"] == "0" and first["Akkoord (%)"] == "" and first["Standaardantwoord (%)"] == ""
