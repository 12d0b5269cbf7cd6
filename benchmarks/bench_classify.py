"""Speed and quality benchmark of the triage core, with two peers trained on
the same training split and measured on the same held-out split:

- a keyword-rule router, as a helpdesk trigger set would be: for each
  category and domain the most discriminative words of the training split
  (chi-squared) become triggers, checked in the order crisis, meervoudig,
  enkelvoudig, else info_advies;
- fastText supervised (the `fasttext` package), one model for the category
  and one one-vs-all model for the domains.

Run by hand (not in CI), on one thread:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_classify.py [--skip-train]

Writes benchmarks/results.md and prints the same table.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def macro_f1(gold, pred, labels):
    f1s = []
    for c in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        n_p = sum(1 for p in pred if p == c)
        n_g = sum(1 for g in gold if g == c)
        f1s.append(2 * tp / (n_p + n_g) if n_p + n_g else 0.0)
    return float(np.mean(f1s))


def crisis_pr(gold, pred):
    tp = sum(1 for g, p in zip(gold, pred) if g == "crisis" and p == "crisis")
    return tp / max(1, sum(g == "crisis" for g in gold)), tp / max(1, sum(p == "crisis" for p in pred))


def domain_micro_f1(gold_sets, pred_sets):
    tp = sum(len(set(g) & set(p)) for g, p in zip(gold_sets, pred_sets))
    n_p = sum(len(p) for p in pred_sets)
    n_g = sum(len(g) for g in gold_sets)
    return 2 * tp / max(1, n_p + n_g)


# ------------------------------------------------------------------ peers
def keyword_router(train, held, k=25):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.feature_selection import chi2

    from triage.dataset import DOMAINS
    from triage.normalize import normalize

    def text(r):
        return normalize(r.text, r.subject).model_text

    tr_texts = [text(r) for r in train]
    vec = CountVectorizer(binary=True, min_df=3, token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    X = vec.fit_transform(tr_texts)
    names = np.array(vec.get_feature_names_out())

    def triggers(y):
        scores, _ = chi2(X, y)
        scores = np.nan_to_num(scores)
        pos = np.asarray(X[y == 1].mean(axis=0)).ravel() > np.asarray(X[y == 0].mean(axis=0)).ravel()
        order = [i for i in np.argsort(-scores) if pos[i]]
        return set(names[order[:k]])

    cat_trig = {c: triggers(np.array([r.category == c for r in train], dtype=int)) for c in ("crisis", "meervoudig", "enkelvoudig")}
    dom_trig = {d: triggers(np.array([d in r.domains for r in train], dtype=int)) for d in DOMAINS}
    cats, doms = [], []
    for r in held:
        words = set(text(r).split())
        c = next((c for c in ("crisis", "meervoudig", "enkelvoudig") if len(words & cat_trig[c]) >= 2), "info_advies")
        cats.append(c)
        doms.append([d for d in DOMAINS if len(words & dom_trig[d]) >= 2])
    return cats, doms


def fasttext_peer(train, held):
    import fasttext

    from triage.dataset import DOMAINS
    from triage.normalize import normalize

    def text(r):
        return normalize(r.text, r.subject).model_text.replace("\n", " ")

    with tempfile.TemporaryDirectory() as tmp:
        cat_file = Path(tmp) / "cat.txt"
        dom_file = Path(tmp) / "dom.txt"
        cat_file.write_text("".join(f"__label__{r.category} {text(r)}\n" for r in train), encoding="utf-8")
        dom_file.write_text("".join(" ".join(f"__label__{d}" for d in (r.domains or ("none",))) + f" {text(r)}\n"
                                    for r in train), encoding="utf-8")
        cat_model = fasttext.train_supervised(str(cat_file), epoch=50, lr=0.5, wordNgrams=2, minn=3, maxn=5,
                                              dim=50, thread=1, seed=1, verbose=0)
        dom_model = fasttext.train_supervised(str(dom_file), epoch=50, lr=0.5, wordNgrams=2, minn=3, maxn=5,
                                              dim=50, loss="ova", thread=1, seed=1, verbose=0)
    def predict(model, t, k=1, threshold=0.0):
        # the low-level call: FastText.predict breaks on NumPy 2 (np.array(copy=False))
        return [label.replace("__label__", "") for _, label in model.f.predict(t, k, threshold, "strict")]

    cats = [predict(cat_model, text(r))[0] for r in held]
    doms = [[d for d in predict(dom_model, text(r), k=-1, threshold=0.5) if d in DOMAINS] for r in held]
    return cats, doms


# ------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-train", action="store_true", help="do not time `triage train`")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    from triage.dataset import CATEGORIES, load_records, split
    from triage.pipeline import Message, Triage
    import_s = time.perf_counter() - t0

    records = load_records(REPO / "training_data" / "messages")
    train, held = split(records)
    t0 = time.perf_counter()
    tri = Triage(REPO / "models")
    load_s = time.perf_counter() - t0

    msgs = [Message(r.text, r.channel, r.subject, r.id) for r in held]
    for m in msgs[:20]:
        tri.classify_many([m])  # warm-up
    lat = []
    for m in msgs:
        t = time.perf_counter()
        tri.classify_many([m])
        lat.append((time.perf_counter() - t) * 1000)
    lat = np.array(lat)

    batch = msgs * max(1, 3000 // len(msgs))

    def throughput() -> float:
        t = time.perf_counter()
        for i in range(0, len(batch), 256):
            tri.classify_many(batch[i:i + 256])
        return len(batch) / (time.perf_counter() - t)

    thr = throughput()
    # the same without extraction, answer and routing: their added cost
    saved = (tri.extractor, tri.kennisbank, tri.router)
    tri.extractor = tri.kennisbank = tri.router = None
    core = []
    for m in msgs:
        t = time.perf_counter()
        tri.classify_many([m])
        core.append((time.perf_counter() - t) * 1000)
    core = np.array(core)
    thr_core = throughput()
    tri.extractor, tri.kennisbank, tri.router = saved

    res = tri.classify_many(msgs)
    gold = [r.category for r in held]
    ours = [x.category for x in res]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [("triage (this project)", macro_f1(gold, ours, CATEGORIES), *crisis_pr(gold, ours),
             domain_micro_f1([r.domains for r in held], [x.domains for x in res]))]
    if not args.no_peers:
        kc, kd = keyword_router(train, held)
        rows.append(("keyword-rule router", macro_f1(gold, kc, CATEGORIES), *crisis_pr(gold, kc),
                     domain_micro_f1([r.domains for r in held], kd)))
        try:
            fc, fd = fasttext_peer(train, held)
            rows.append(("fastText supervised", macro_f1(gold, fc, CATEGORIES), *crisis_pr(gold, fc),
                         domain_micro_f1([r.domains for r in held], fd)))
        except ImportError:
            rows.append(("fastText supervised (not installed)", float("nan"), float("nan"), float("nan"), float("nan")))

    train_s = None
    if not args.skip_train:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "triage", "--models", tmp, "train"], check=True, cwd=REPO,
                           env={k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")},
                           capture_output=True)
            train_s = time.perf_counter() - t

    lines = [
        "# Benchmark results",
        "",
        f"Held-out split: {len(held)} messages; training split: {len(train)}. One thread "
        f"(OMP/OPENBLAS/MKL_NUM_THREADS=1), machine: {os.cpu_count()} cores.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| latency per message, p50 | {np.percentile(lat, 50):.2f} ms |",
        f"| latency per message, p99 | {np.percentile(lat, 99):.2f} ms |",
        f"| of which classification only, p50 / p99 | {np.percentile(core, 50):.2f} / {np.percentile(core, 99):.2f} ms |",
        f"| added by extraction, answer and routing, p50 | {np.percentile(lat, 50) - np.percentile(core, 50):.2f} ms |",
        f"| batch throughput, classification (batches of 256, one thread) | {thr_core:.0f} messages/s |",
        f"| batch throughput, full decision incl. extraction, answer, route | {thr:.0f} messages/s |",
        f"| peak memory (RSS) | {peak_mb:.0f} MB |",
        f"| model load (Triage(), after imports) | {load_s:.2f} s |",
        f"| Python imports of the package | {import_s:.2f} s |",
        f"| `triage train` (2 cores) | {'not measured' if train_s is None else f'{train_s:.1f} s'} |",
        "",
        "| system | category macro-F1 | crisis recall | crisis precision | domain micro-F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, f1, rec, prec, dom in rows:
        lines.append(f"| {name} | {f1:.3f} | {rec:.3f} | {prec:.3f} | {dom:.3f} |")
    out = "\n".join(lines) + "\n"
    print(out)
    (REPO / "benchmarks" / "results.md").write_text(out, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
