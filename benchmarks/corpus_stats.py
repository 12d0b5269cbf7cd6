"""Counts for the training-data datasheet (training_data/README.md).

Prints Markdown tables on stdout: messages per category, channel, domain and
writing slice, the fixed train/held-out split (taken from triage.dataset, not
re-implemented), English share, subjects, lengths, startformulier fields,
tags, exact and near-duplicate texts, BSN 11-test, and the kennisbank sets.

    .venv/bin/python benchmarks/corpus_stats.py [--data training_data]

Read-only; deterministic; standard library plus the triage package.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter, defaultdict
from math import ceil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from triage.dataset import CATEGORIES, CHANNELS, DOMAINS, FIELD_NAMES, load_records, split  # noqa: E402

TARGET_CHANNEL = {"email": "~35%", "chat": "~25%", "phone": "~25%", "partner": "~15%"}

# Language heuristic: count frequent English and Dutch function words; a text
# is English when it has at least two English ones and more English than
# Dutch ones. Words shared by both languages (is, in, we, was, of, me) are
# left out on purpose. Crude but transparent; compared with the `lang` label.
EN_WORDS = set(
    "the and you your my i i'm it's to for with have has not can't don't what this that are it our "
    "please would could there about from but they he she his how where when am be been will at on "
    "do does just any if get need want know who which because".split()
)
NL_WORDS = set(
    "de het een en ik je jij u uw mijn mn niet wat dat die voor met van op zijn hebben heb heeft kan "
    "wil maar ook nog naar bij hoe waar wanneer er hij ze zij wij ons onze omdat geen graag dank mag "
    "moet weet".split()
)

NEAR = 0.7  # word-trigram Jaccard at or above which two different texts count as near-duplicates
LOW = 0.3   # lowest similarity looked at (to show the closest pairs under NEAR)


def looks_english(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    en = sum(w in EN_WORDS for w in words)
    nl = sum(w in NL_WORDS for w in words)
    return en >= 2 and en > nl


def norm(text: str) -> str:
    """Lower case, every run of non-word characters one space; texts of only
    symbols (an emoji, '?') keep their stripped form."""
    return re.sub(r"\W+", " ", text.lower()).strip() or text.strip()


def shingles(text: str) -> frozenset[str]:
    w = norm(text).split()
    return frozenset(" ".join(w[i:i + 3]) for i in range(max(1, len(w) - 2)))


def bsn_ok(v: str) -> bool:
    return len(v) == 9 and v.isdigit() and (sum(int(v[i]) * (9 - i) for i in range(8)) - int(v[8])) % 11 == 0


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "-"


def quantile(sorted_vals: list[int], q: float) -> int:
    """Nearest-rank quantile."""
    return sorted_vals[min(len(sorted_vals) - 1, max(0, ceil(q * len(sorted_vals)) - 1))]


def table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def similar_pairs(texts: list[str], low: float) -> list[tuple[float, int, int]]:
    """All pairs (i < j) with word-trigram Jaccard >= low, exact by prefix
    filtering: if J(A, B) >= t then B contains one of the
    |A| - ceil(t |A|) + 1 rarest shingles of A."""
    sets = [shingles(t) for t in texts]
    df = Counter(g for s in sets for g in s)
    post = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            post[g].append(i)
    out = []
    for i, s in enumerate(sets):
        order = sorted(s, key=lambda g: (df[g], g))
        cand = {j for g in order[: len(s) - ceil(low * len(s)) + 1] for j in post[g] if j > i}
        for j in cand:
            jac = len(s & sets[j]) / len(s | sets[j])
            if jac >= low:
                out.append((jac, i, j))
    return sorted(out, key=lambda x: (-x[0], x[1], x[2]))


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "training_data")
    args = ap.parse_args()
    msg_dir, kb_dir = args.data / "messages", args.data / "kennisbank"

    files = sorted(msg_dir.glob("*.jsonl"))
    by_file = {f.name: load_records(f) for f in files}
    records = load_records(msg_dir)
    raw = [r for f in files for r in read_jsonl(f)]
    train, held = split(records)
    held_ids = {r.id for r in held}
    n = len(records)
    en_heur = {r.id for r in records if looks_english(r.text)}
    en_label = {r.id for r in records if r.lang == "en"}
    p = print

    p("### Totals\n")
    both = len(en_label & en_heur)
    p(f"{n} messages in {len(files)} files: {len(train)} train, {len(held)} held-out ({pct(len(held), n)}). "
      f"English: {len(en_label)} by `lang` label ({pct(len(en_label), n)}; {len(en_label & held_ids)} held-out), "
      f"{len(en_heur)} by word heuristic ({pct(len(en_heur), n)}); they agree on {both}, label only "
      f"{len(en_label - en_heur)}, heuristic only {len(en_heur - en_label)}. Raw channel values outside "
      f"{'/'.join(CHANNELS)}: {sum(1 for r in raw if r.get('channel') not in CHANNELS)}.\n")

    p("### Category (with the held-out split of triage.dataset)\n")
    cat = Counter(r.category for r in records)
    cat_h = Counter(r.category for r in held)
    p(table(["category", "messages", "share", "train", "held-out"],
            [[c, cat[c], pct(cat[c], n), cat[c] - cat_h[c], cat_h[c]] for c in CATEGORIES]))

    p("\n### Channel\n")
    ch = Counter(r.channel for r in records)
    ch_h = Counter(r.channel for r in held)
    ch_en = Counter(r.channel for r in records if r.id in en_label)
    ch_subj = Counter(r.channel for r in records if r.subject.strip())
    p(table(["channel", "messages", "share", "target", "held-out", "English (label)", "with subject"],
            [[c, ch[c], pct(ch[c], n), TARGET_CHANNEL[c], ch_h[c], ch_en[c], f"{ch_subj[c]} ({pct(ch_subj[c], ch[c])})"]
             for c in CHANNELS]))
    n_subj = sum(ch_subj.values())
    p(f"\nWith a subject: {n_subj} of {n} ({pct(n_subj, n)}).\n")

    p("### Category x channel (all; held-out in brackets)\n")
    cc = Counter((r.category, r.channel) for r in records)
    cc_h = Counter((r.category, r.channel) for r in held)
    p(table(["category"] + list(CHANNELS) + ["total"],
            [[c] + [f"{cc[c, k]} ({cc_h[c, k]})" for k in CHANNELS] + [f"{cat[c]} ({cat_h[c]})"] for c in CATEGORIES]))

    p("\n### Domain (messages tagged with it) x category\n")
    dom = Counter(d for r in records for d in r.domains)
    dom_h = Counter(d for r in held for d in r.domains)
    dc = Counter((d, r.category) for r in records for d in r.domains)
    p(table(["domain", "messages", "held-out", "English"] + list(CATEGORIES),
            [[d, dom[d], dom_h[d], sum(1 for r in records if d in r.domains and r.id in en_label)]
             + [dc[d, c] for c in CATEGORIES] for d in DOMAINS]))
    nd = Counter(len(r.domains) for r in records)
    p("\nDomains per message: " + ", ".join(f"{k}: {nd[k]}" for k in sorted(nd)) + ".\n")

    p("### Length of the text in characters (nearest-rank percentiles)\n")
    rows = []
    for name, group in [("all", records)] + [(c, [r for r in records if r.channel == c]) for c in CHANNELS]:
        lens = sorted(len(r.text) for r in group)
        rows.append([name, quantile(lens, 0.10), int(statistics.median(lens)), quantile(lens, 0.90), lens[0], lens[-1]])
    p(table(["", "p10", "median", "p90", "min", "max"], rows))

    p("\n### Writing slices (file prefix)\n")
    slices = defaultdict(list)
    for fname, recs in by_file.items():
        slices[fname.split("_")[0]].append(recs)
    rows = []
    for s in sorted(slices, key=lambda s: (s[0] != "s", s[0] != "r", s)):
        recs = [r for chunk in slices[s] for r in chunk]
        c = Counter(r.channel for r in recs)
        rows.append([s, len(slices[s]), len(recs), sum(r.id in held_ids for r in recs)]
                    + [c[k] for k in CHANNELS]
                    + [sum(r.category == "crisis" for r in recs), sum(r.id in en_label for r in recs)])
    p(table(["slice", "files", "messages", "held-out"] + list(CHANNELS) + ["crisis", "English"], rows))

    p("\n### Startformulier fields, reporter and consent\n")
    fc = Counter(k for r in records for k in r.fields)
    p(table(["field"] + [f for f in FIELD_NAMES if f != "aanmelder"],
            [["messages"] + [fc[f] for f in FIELD_NAMES if f != "aanmelder"]]))
    am = Counter(r.fields.get("aanmelder") for r in records)
    co = Counter(r.consent for r in records)
    p("\naanmelder: " + ", ".join(f"{k} {am[k]}" for k in ("inwoner", "naaste", "partner"))
      + "; consent: " + ", ".join(f"{k} {co[k]}" for k in ("onbekend", "ja", "nee")) + ".")

    pat = re.compile(r"(?i)(?:bsn|burgerservicenummer|sofi|service number)[^\d\n]{0,25}(\d[\d .-]{7,12}\d)")
    found = [(r, re.sub(r"\D", "", m.group(1))) for r in records for m in pat.finditer(r.text)]
    nine = [(r, d) for r, d in found if len(d) == 9]
    valid = [(r, d) for r, d in nine if bsn_ok(d)]
    labelled = sum(1 for r, d in valid if r.fields.get("bsn") == d)
    bad_labels = sum(1 for r in records if "bsn" in r.fields and not bsn_ok(r.fields["bsn"]))
    p(f"\nBSN: {len(nine)} nine-digit numbers written after 'BSN' or similar; {len(valid)} pass the 11-test "
      f"({len({d for _, d in valid})} distinct numbers, {sum(1 for c in Counter(d for _, d in valid).values() if c > 1)} "
      f"of them in more than one message), {len(nine) - len(valid)} fail it; "
      f"{labelled} passing ones are labelled `bsn`, labelled BSNs failing the test: {bad_labels}.\n")

    p("### Tags (free-form, chosen by each writing session)\n")
    tags = Counter(t for r in raw for t in r.get("tags") or [])
    tagged = sum(1 for r in raw if r.get("tags"))
    p(f"{tagged} of {n} messages ({pct(tagged, n)}) carry at least one tag; {len(tags)} distinct tags. Most frequent: "
      + ", ".join(f"{t} {c}" for t, c in tags.most_common(16)) + ".")

    # kennisbank
    answers = read_jsonl(kb_dir / "answers.jsonl")
    examples = read_jsonl(kb_dir / "examples.jsonl")
    questions = read_jsonl(kb_dir / "questions.jsonl")
    ans_ex = [(f"{a['id']}#{i}", t) for a in answers for i, t in enumerate(a.get("examples") or [])]

    p("\n### Kennisbank\n")
    ex_none = sum(1 for e in examples if not e.get("answer_id"))
    q_none = sum(1 for q in questions if not q.get("answer_id"))
    q_cov = len({q["answer_id"] for q in questions if q.get("answer_id")})
    p(table(["set", "items", "answer \"none\"", "notes"], [
        ["answers.jsonl (standard answers)", len(answers), "-",
         f"{sum(1 for a in answers if a.get('answer_en'))} with English text; {len(ans_ex)} example questions inside"],
        ["examples.jsonl (training)", len(examples), f"{ex_none} ({pct(ex_none, len(examples))})",
         ", ".join(f"{k} {v}" for k, v in Counter(e.get('channel') for e in examples).most_common())],
        ["questions.jsonl (evaluation)", len(questions), f"{q_none} ({pct(q_none, len(questions))})",
         f"covers {q_cov} of {len(answers)} answers; "
         + ", ".join(f"{k} {v}" for k, v in Counter(q.get('channel') for q in questions).most_common())],
    ]))

    # duplicates
    p("\n### Duplicate and near-duplicate texts\n")
    items = ([("msg", r.id, r.text) for r in records] + [("kb-train", e["id"], e["text"]) for e in examples]
             + [("kb-train", i, t) for i, t in ans_ex] + [("kb-eval", q["id"], q["text"]) for q in questions])
    keys = [norm(t) for _, _, t in items]
    pairs = similar_pairs([t for _, _, t in items], LOW)
    kind = Counter()
    for jac, i, j in pairs:
        if jac < NEAR:
            continue
        a, b = sorted([items[i][0], items[j][0]])
        exact = keys[i] == keys[j]
        kind[(f"{a} / {b}", "exact" if exact else "near")] += 1
    groups = defaultdict(list)
    for (src, rid, _), k in zip(items, keys):
        groups[k].append((src, rid))
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    exact_msg_groups = [[rid for src, rid in v if src == "msg"] for v in groups.values()]
    exact_msg_groups = [g for g in exact_msg_groups if len(g) > 1]
    mm_cross = sum(1 for jac, i, j in pairs if jac >= NEAR and items[i][0] == items[j][0] == "msg"
                   and (items[i][1] in held_ids) != (items[j][1] in held_ids))
    held_vs_kb = [(items[i][1], items[j][1]) for jac, i, j in pairs if jac >= NEAR
                  and {items[i][0], items[j][0]} == {"msg", "kb-train"}
                  and (items[i][1] in held_ids or items[j][1] in held_ids)]
    p(f"Normalized text: lower case, punctuation and white space collapsed. Exact = same normalized text; "
      f"near = word-trigram Jaccard >= {NEAR}. msg = messages, kb-train = examples.jsonl and the answers' "
      f"example questions, kb-eval = questions.jsonl.\n")
    combos = sorted({c for c, _ in kind} | {"msg / msg"})
    p(table(["pair of sets", "exact", "near"], [[c, kind[c, "exact"], kind[c, "near"]] for c in combos]))
    p(f"\nExact duplicates among messages: {len(exact_msg_groups)} groups"
      + (": " + "; ".join(", ".join(g) for g in exact_msg_groups) if exact_msg_groups else "")
      + f". Message pairs at or above {NEAR} that straddle train/held-out: {mm_cross}. "
      f"Held-out messages with an (near-)identical kennisbank training text: {len(held_vs_kb)}"
      + (" (" + "; ".join(f"{a} / {b}" for a, b in held_vs_kb) + ")" if held_vs_kb else "") + ".")
    if groups:
        p("\nExact-duplicate groups (normalized text: ids): "
          + "; ".join(f"'{k}': {', '.join(rid for _, rid in v)}" for k, v in sorted(groups.items())) + ".")
    closest = [(jac, items[i][1], items[j][1]) for jac, i, j in pairs
               if items[i][0] == items[j][0] == "msg" and keys[i] != keys[j]][:3]
    if closest:
        p("\nClosest different message pairs: "
          + "; ".join(f"{a} / {b} ({jac:.2f})" for jac, a, b in closest) + ".")


if __name__ == "__main__":
    main()
