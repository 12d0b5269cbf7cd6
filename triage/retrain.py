"""Retraining with the agents' corrections, model versions, activation and
rollback (beheer in the console, `triage model ...` on the command line).

    correction_records(store)         every corrected case as a training record
    ModelRegistry(root, shipped)      versions in root/<version>/ (artifacts +
                                      version.json), root/active.json names the
                                      active one and keeps the activations for
                                      rollback; no active version: the shipped
                                      models/ folder ("shipped")
    RetrainJob(...)                   training in a subprocess at lower priority,
                                      so that `triage serve` keeps answering

    python -m triage.retrain          what RetrainJob runs; everything from the
                                      environment (TRIAGE_*), the database URL too,
                                      so that no password shows in the process list

Corrections are TRAINING records only: the held-out split of training_data/
is the only evaluation set, and a correction whose text is a held-out text is
left out. The active model and a candidate are evaluated on that split by the
same code in the same run, so their figures can be set side by side.

Safety gate: a version is activated only when its held-out crisis recall is
at least ``min_crisis_recall`` (0.95, can only be made stricter) and not lower
than the active model's. The shipped models are the released baseline and
are always allowed (rollback ends there).

Messages in exceptions (ModelError and subclasses) are Dutch, for the
beheerder; events and log lines hold no personal data.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from .dataset import CATEGORIES, DOMAINS, Record, canonical_channel, load_records, split

log = logging.getLogger("triage.retrain")

__all__ = [
    "correction_records", "ModelRegistry", "RetrainJob", "SHIPPED",
    "ModelError", "UnknownVersion", "ActivationRefused", "NothingToRollBack", "TrainingBusy", "ModelNotLoadable",
    "ModelPinned",
]

SHIPPED = "shipped"
CORRECTED_FIELDS = ("category", "domains")
HISTORY_KEEP = 200
_CHUNK = 500  # ids per IN (...) query


# ------------------------------------------------------------ exceptions
class ModelError(Exception):
    """A model action that cannot be done. ``str(exc)`` is a Dutch message
    for the beheerder (no personal data)."""


class UnknownVersion(ModelError, LookupError):
    def __init__(self, version: str):
        self.version = version
        super().__init__(f"Modelversie {version} bestaat niet.")


class ActivationRefused(ModelError):
    """The safety gate: the version recognises fewer crisis messages."""

    def __init__(self, message: str, version: str, candidate_recall: float | None, active_recall: float | None,
                 minimum: float):
        self.version, self.candidate_recall, self.active_recall, self.minimum = (
            version, candidate_recall, active_recall, minimum)
        super().__init__(message)


class NothingToRollBack(ModelError):
    def __init__(self):
        super().__init__("Er is geen eerdere modelversie om naar terug te gaan. Het meegeleverde model is al actief.")


class TrainingBusy(ModelError):
    def __init__(self):
        super().__init__("Er loopt al een training. Wacht tot die klaar is en probeer het dan opnieuw.")


class ModelNotLoadable(ModelError):
    def __init__(self, version: str):
        self.version = version
        super().__init__(f"Modelversie {version} kan niet worden geladen. Er is niets veranderd: "
                         "het huidige model blijft actief.")


class ModelPinned(ModelError):
    def __init__(self):
        super().__init__("Het model is bij het starten vastgezet met --models (of model_dir). Activeren of "
                         "terugzetten kan pas na een herstart zonder --models.")


# ------------------------------------------------------------ small helpers
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _text_key(text: str) -> str:
    return " ".join(text.split()).lower()


def _pct(x: float | None) -> str:
    return "onbekend" if x is None else f"{x * 100:.1f}%".replace(".", ",")


def _write_json(path: Path, data) -> None:
    """Atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        log.error("cannot read %s", path.name)
        return default


def _loadable(path: Path) -> bool:
    return (path / "text_models.npz").is_file() and (path / "text_models.json").is_file()


def write_event(store, actor: str, action: str, detail: dict) -> None:
    """An audit event in its own short transaction (no personal data in
    ``detail``). A failure is logged; the model action itself stands."""
    if store is None:
        return
    from .store import Event

    try:
        with store.session() as s:
            s.add(Event(actor=str(actor)[:100], action=action, detail=detail))
            s.commit()
    except Exception as exc:
        log.error("audit event %s not written (%s)", action, type(exc).__name__)


# ------------------------------------------------------------ corrections
def correction_records(store) -> list[Record]:
    """Every case with at least one correction of its category or domains,
    as one training record ``corr-<case id>``: the text, subject and channel
    of the case's first message (a chat case: the resident's question as the
    conversation collected it, the hulpvraag), the category and domains as
    corrected (the latest correction of each wins; one not corrected keeps
    the case's current value). The aanmelder and kinderen labels come from
    the case's startformulier. Left out: anonymised cases, cases without
    text, and a text seen before (the most recently corrected case keeps it).
    """
    from sqlmodel import select

    from .store import Case, Correction, InboundRecord, Startformulier

    latest: dict[int, dict] = {}
    last_at: dict[int, tuple] = {}
    with store.session() as s:
        rows = s.exec(select(Correction).where(Correction.field.in_(CORRECTED_FIELDS))
                      .order_by(Correction.at, Correction.id)).all()
        for c in rows:
            if c.new is None:  # blanked by retention
                continue
            latest.setdefault(c.case_id, {})[c.field] = c.new
            last_at[c.case_id] = (c.at, c.id)
        ids = sorted(latest)
        cases, first_msg, forms = {}, {}, {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            for c in s.exec(select(Case).where(Case.id.in_(chunk))).all():
                cases[c.id] = c
            for m in s.exec(select(InboundRecord).where(InboundRecord.case_id.in_(chunk))
                            .order_by(InboundRecord.id)).all():
                if (m.inhoud or "").strip() and m.case_id not in first_msg:
                    first_msg[m.case_id] = m
            for f in s.exec(select(Startformulier).where(Startformulier.case_id.in_(chunk))).all():
                forms[f.case_id] = f
    seen: set[str] = set()
    out: list[Record] = []
    for case_id in sorted(ids, key=lambda k: last_at[k], reverse=True):  # newest correction first
        case = cases.get(case_id)
        msg = first_msg.get(case_id)
        if case is None or case.anonymised_at is not None or msg is None:
            continue
        form = forms.get(case_id)
        text, subject = msg.inhoud, msg.onderwerp or ""
        if msg.kanaal == "chat" and form is not None and (form.hulpvraag or "").strip():
            text, subject = form.hulpvraag, ""
        key = _text_key(text)
        if not key or key in seen:
            continue
        corr = latest[case_id]
        category = corr.get("category", case.category)
        if category not in CATEGORIES:
            continue
        domains = corr.get("domains", case.domains) or []
        domains = tuple(d for d in DOMAINS if d in set(domains if isinstance(domains, list) else []))
        fields = (form.fields or {}) if form is not None else {}
        seen.add(key)
        out.append(Record(
            id=f"corr-{case_id}", channel=canonical_channel(msg.kanaal), text=text, subject=subject,
            category=category, domains=domains,
            fields={"aanmelder": str(fields.get("aanmelder") or "inwoner"), "kinderen": bool(fields.get("kinderen"))},
            consent="onbekend",
        ))
    out.sort(key=lambda r: int(r.id.split("-", 1)[1]))
    return out


# ------------------------------------------------------------ metrics
def metrics_of(ev) -> dict:
    """The figures of a triage.evaluate.Evaluation (or its as_dict(), e.g.
    models/metrics.json) that version.json and the console show."""
    d = ev if isinstance(ev, dict) else ev.as_dict()

    def prfs(v):
        if isinstance(v, dict):
            return v
        p, r, f, n = v
        return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}

    fs = d.get("field_scores") or {}
    return {
        "n": int(d["n"]),
        "macro_f1": float(d["macro_f1"]),
        "accuracy": float(d["accuracy"]),
        "crisis_recall": float(d["crisis_recall"]),
        "crisis_precision": float(d["crisis_precision"]),
        "domain_micro_f1": float(d["domain_micro_f1"]),
        "field_micro_f1": float(fs["micro_f1"]) if fs.get("micro_f1") is not None else None,
        "crisis_auto_answered": int(d.get("crisis_auto_answered") or 0),
        "per_class": {k: prfs(v) for k, v in d["per_class"].items()},
        "per_domain": {k: prfs(v) for k, v in (d.get("domain_per_label") or {}).items()},
        "confusion": d.get("confusion"),
    }


def evaluate_model(model_dir: Path, records: list[Record]) -> dict:
    """Load the models in ``model_dir`` and measure them on ``records``
    (the held-out split) with triage.evaluate."""
    from .evaluate import evaluate_records
    from .pipeline import Triage

    return metrics_of(evaluate_records(Triage(model_dir), records))


# ------------------------------------------------------------ registry
class ModelRegistry:
    """Model versions on disk. ``root``: the versions folder
    (TRIAGE_MODEL_VERSIONS_DIR, default <data_dir>/models); ``shipped``: the
    released models (models/, TRIAGE_MODEL_DIR). ``store``: for audit events.
    Safe to use from several processes (a file lock around every change)."""

    def __init__(self, root: Path | str, shipped: Path | str, *, store=None, min_crisis_recall: float = 0.95):
        self.root = Path(root)
        self.shipped = Path(shipped)
        self.store = store
        self.min_crisis_recall = max(0.95, float(min_crisis_recall))

    # ------------------------------------------------------------ reading
    def path_of(self, version: str) -> Path:
        if version == SHIPPED:
            return self.shipped
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise UnknownVersion(str(version))
        p = self.root / version
        if not (p / "version.json").is_file():
            raise UnknownVersion(version)
        return p

    def info(self, version: str) -> dict:
        """version.json of a version (for "shipped": built from models/)."""
        if version == SHIPPED:
            manifest = _read_json(self.shipped / "manifest.json", {}) or {}
            raw = _read_json(self.shipped / "metrics.json")
            return {
                "version": SHIPPED, "created_at": manifest.get("trained_on"), "created_by": "meegeleverd",
                "n_corrections": 0, "base": manifest.get("corpus_sha256_16"),
                "metrics": metrics_of(raw) if raw else None, "status": "shipped", "compared_with": None,
            }
        info = _read_json(self.path_of(version) / "version.json")
        if not isinstance(info, dict):
            raise UnknownVersion(version)
        return info

    def _state(self) -> dict:
        st = _read_json(self.root / "active.json", {}) or {}
        return {"stack": list(st.get("stack") or []), "history": list(st.get("history") or [])}

    def active(self) -> tuple[str, Path]:
        """(version, folder) of the active model. A version whose folder is
        gone or incomplete counts as not there (the one before it is used)."""
        for version in reversed(self._state()["stack"]):
            if version == SHIPPED:
                return SHIPPED, self.shipped
            p = self.root / version
            if _loadable(p):
                return version, p
            log.warning("model version %s is missing or incomplete; skipped", version)
        return SHIPPED, self.shipped

    def version_of(self, path: Path | str) -> str | None:
        """The version whose folder is ``path`` (None: not a registry folder)."""
        p = Path(path).resolve()
        if p == self.shipped.resolve():
            return SHIPPED
        if p.parent == self.root.resolve() and (p / "version.json").is_file():
            return p.name
        return None

    def versions(self) -> list[dict]:
        """Every version, newest first, the shipped one last: version.json
        plus ``active`` (bool), ``can_activate`` (bool) and ``why_not`` (the
        Dutch reason the safety gate would refuse it, or None)."""
        active_version, _ = self.active()
        active_info = self._safe_info(active_version)
        state = self._state()
        was_active = {h.get("version") for h in state["history"]}
        rolled_back = {h.get("from") for h in state["history"] if h.get("action") == "rolled_back"}
        out = []
        names = sorted((p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
                        and (p / "version.json").is_file()), reverse=True) if self.root.is_dir() else []
        for name in names + [SHIPPED]:
            info = self._safe_info(name)
            if info is None:
                continue
            info = dict(info)
            info["active"] = name == active_version
            if name == SHIPPED:
                info["status"] = "active" if info["active"] else "shipped"
            elif info["active"]:
                info["status"] = "active"
            elif name in rolled_back:
                info["status"] = "rolled_back"
            elif name in was_active:
                info["status"] = "previous"
            else:
                info["status"] = "candidate"
            why = None if info["active"] else self._refusal(name, info, active_version, active_info)
            info["can_activate"] = not info["active"] and why is None
            info["why_not"] = why
            out.append(info)
        return out

    def _safe_info(self, version: str) -> dict | None:
        try:
            return self.info(version)
        except UnknownVersion:
            return None

    def history(self) -> list[dict]:
        """Activations and rollbacks, oldest first: {at, actor, action, version, from}."""
        return self._state()["history"]

    # ------------------------------------------------------------ the gate
    def _active_recall_for(self, info: dict, active_version: str, active_info: dict | None) -> float | None:
        """The active model's crisis recall to hold ``info`` against: from the
        same evaluation run when the candidate was measured beside it."""
        cw = info.get("compared_with") or {}
        if cw.get("version") == active_version and (cw.get("metrics") or {}).get("crisis_recall") is not None:
            return float(cw["metrics"]["crisis_recall"])
        m = (active_info or {}).get("metrics") or {}
        return float(m["crisis_recall"]) if m.get("crisis_recall") is not None else None

    def _refusal(self, version: str, info: dict, active_version: str, active_info: dict | None) -> str | None:
        if version == SHIPPED:
            return None  # the released baseline: always allowed
        if not _loadable(self.root / version):
            return f"Modelversie {version} is niet compleet en kan niet worden gebruikt."
        recall = ((info.get("metrics") or {}).get("crisis_recall"))
        if recall is None:
            return f"Van modelversie {version} zijn geen meetresultaten bekend. Train opnieuw."
        if recall < self.min_crisis_recall - 1e-9:
            return (f"Modelversie {version} wordt niet gebruikt: het herkent {_pct(recall)} van de crisisberichten. "
                    f"Dat moet minstens {_pct(self.min_crisis_recall)} zijn, want een crisis mag niet gemist worden. "
                    "Het huidige model blijft actief.")
        active_recall = self._active_recall_for(info, active_version, active_info)
        if active_recall is not None and recall < active_recall - 1e-9:
            return (f"Modelversie {version} wordt niet gebruikt: het herkent minder crisisberichten ({_pct(recall)}) "
                    f"dan het model dat nu actief is ({_pct(active_recall)}). Een crisis mag niet gemist worden. "
                    "Het huidige model blijft actief.")
        return None

    def check_activation(self, version: str) -> Path:
        """The folder of ``version`` when it may be activated; raises
        UnknownVersion or ActivationRefused (with the Dutch reason)."""
        info = self.info(version)
        active_version, _ = self.active()
        if version == active_version:
            return self.path_of(version)
        active_info = self._safe_info(active_version)
        why = self._refusal(version, info, active_version, active_info)
        if why:
            raise ActivationRefused(why, version, (info.get("metrics") or {}).get("crisis_recall"),
                                    self._active_recall_for(info, active_version, active_info), self.min_crisis_recall)
        return self.path_of(version)

    def compare(self, version: str) -> dict:
        """A version beside the active model: {"candidate": {version,
        metrics}, "active": {version, metrics}, "same_run": both measured
        in the same run, "comparable": measured on the same held-out data}."""
        info = self.info(version)
        active_version, _ = self.active()
        active_info = self._safe_info(active_version) or {}
        cw = info.get("compared_with") or {}
        same_run = cw.get("version") == active_version and cw.get("metrics") is not None
        active_metrics = cw["metrics"] if same_run else active_info.get("metrics")
        return {
            "candidate": {"version": version, "metrics": info.get("metrics")},
            "active": {"version": active_version, "metrics": active_metrics},
            "same_run": same_run,
            "comparable": same_run or (info.get("base") is not None and info.get("base") == active_info.get("base")),
        }

    # ------------------------------------------------------------ changing
    @contextmanager
    def _locked(self, name: str = ".lock", blocking: bool = True):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise TrainingBusy() from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def training_running(self) -> bool:
        """Is a training (in any process) running now?"""
        try:
            with self._locked(".train.lock", blocking=False):
                return False
        except TrainingBusy:
            return True

    def _save_state(self, state: dict) -> None:
        state["history"] = state["history"][-HISTORY_KEEP:]
        state["active"] = state["stack"][-1] if state["stack"] else SHIPPED
        _write_json(self.root / "active.json", state)

    def _set_status(self, version: str, status: str) -> None:
        if version == SHIPPED:
            return
        p = self.root / version / "version.json"
        info = _read_json(p)
        if isinstance(info, dict):
            info["status"] = status
            _write_json(p, info)

    def activate(self, version: str, actor: str) -> dict:
        """Make ``version`` the active model (safety gate first). Returns its
        info. Activating the active version changes nothing."""
        with self._locked():
            path = self.check_activation(version)
            if version != SHIPPED:
                try:
                    from .model import TextModels

                    TextModels.load(path)
                except Exception:
                    raise ModelNotLoadable(version) from None
            previous, _ = self.active()
            if version == previous:
                return self.info(version)
            state = self._state()
            state["stack"].append(version)
            state["history"].append({"at": _now(), "actor": actor, "action": "activated", "version": version,
                                     "from": previous})
            self._save_state(state)
            self._set_status(version, "active")
            self._set_status(previous, "previous")
        info = self.info(version)
        m = info.get("metrics") or {}
        write_event(self.store, actor, "model_activated", {
            "version": version, "previous": previous, "crisis_recall": m.get("crisis_recall"),
            "macro_f1": m.get("macro_f1")})
        log.info("model version %s activated (was %s)", version, previous)
        return info

    def rollback_target(self) -> tuple[str, Path]:
        """(version, folder) a rollback would go back to; raises NothingToRollBack."""
        stack = self._state()["stack"]
        if not stack:
            raise NothingToRollBack()
        current, _ = self.active()
        for version in reversed(stack[:-1]):
            if version == current:
                continue
            if version == SHIPPED or _loadable(self.root / version):
                return version, self.path_of(version)
        if current == SHIPPED:
            raise NothingToRollBack()
        return SHIPPED, self.shipped

    def rollback(self, actor: str) -> dict:
        """Back to the version that was active before this one (or the
        shipped models). Not held by the safety gate: that version was
        active before. Returns the info of the version now active."""
        with self._locked():
            target, _ = self.rollback_target()
            current, _ = self.active()
            state = self._state()
            while state["stack"] and state["stack"][-1] != target:
                state["stack"].pop()
            state["history"].append({"at": _now(), "actor": actor, "action": "rolled_back", "version": target,
                                     "from": current})
            self._save_state(state)
            self._set_status(current, "rolled_back")
            self._set_status(target, "active")
        write_event(self.store, actor, "model_rolled_back", {"version": target, "from": current})
        log.info("model rolled back from %s to %s", current, target)
        return self.info(target)

    # ------------------------------------------------------------ training
    def _new_version(self) -> str:
        base = datetime.now().strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while (self.root / name).exists() or (self.root / f".tmp-{name}").exists():
            n += 1
            name = f"{base}-{n}"
        return name

    def train_candidate(self, training_data_dir: Path | str, store=None, actor: str = "system", log_fn=None) -> dict:
        """Train on training_data's training split plus the corrections into
        a new version folder; measure it and the active model on the
        held-out split; write version.json. Returns the new version's info
        (with can_activate/why_not). Raises TrainingBusy when a training
        runs. Does not activate anything."""
        from .train import corpus_hash, train

        store = store if store is not None else self.store
        training_data_dir = Path(training_data_dir)
        say = log_fn or (lambda m: log.info("%s", m))
        with self._locked(".train.lock", blocking=False):
            for stale in self.root.glob(".tmp-*"):  # a training that was stopped
                shutil.rmtree(stale, ignore_errors=True)
            t0 = time.perf_counter()
            records = load_records(training_data_dir / "messages")
            _, heldout = split(records)
            corrections = correction_records(store) if store is not None else []
            held = {_text_key(r.text) for r in heldout}
            kept = [r for r in corrections if _text_key(r.text) not in held]
            if len(kept) < len(corrections):
                say(f"{len(corrections) - len(kept)} corrected cases left out: same text as a held-out message")
            version = self._new_version()
            tmp = self.root / f".tmp-{version}"
            try:
                manifest = train(training_data_dir, tmp, log=say, extra_records=kept)
                train_seconds = time.perf_counter() - t0
                say("measuring the new model and the active one on the held-out split")
                metrics = evaluate_model(tmp, heldout)
                active_version, active_path = self.active()
                active_metrics = evaluate_model(active_path, heldout)
                info = {
                    "version": version, "created_at": _now(), "created_by": actor,
                    "n_corrections": len(kept), "n_corrections_left_out": len(corrections) - len(kept),
                    "base": corpus_hash(training_data_dir / "messages"),
                    "n_train": manifest["n_train"], "n_heldout": len(heldout),
                    "train_seconds": round(train_seconds, 1), "seconds": round(time.perf_counter() - t0, 1),
                    "metrics": metrics, "compared_with": {"version": active_version, "metrics": active_metrics},
                    "status": "candidate",
                }
                _write_json(tmp / "version.json", info)
                os.replace(tmp, self.root / version)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        write_event(store, actor, "model_trained", {
            "version": version, "n_corrections": len(kept), "macro_f1": round(metrics["macro_f1"], 4),
            "crisis_recall": round(metrics["crisis_recall"], 4), "active_version": active_version,
            "active_macro_f1": round(active_metrics["macro_f1"], 4),
            "active_crisis_recall": round(active_metrics["crisis_recall"], 4)})
        log.info("model version %s trained in %.1f s", version, info["seconds"])
        why = self._refusal(version, info, *self._active_and_info())
        return {**info, "active": False, "can_activate": why is None, "why_not": why}

    def _active_and_info(self) -> tuple[str, dict | None]:
        v, _ = self.active()
        return v, self._safe_info(v)


# ------------------------------------------------------------ background job
class RetrainJob:
    """Training in a subprocess (``python -m triage.retrain``, niced) for
    the console. One at a time, also across processes. ``status()``:

        {"state": "idle"}
        {"state": "running", "started_at", "actor"}
        {"state": "done", "version", "started_at", "finished_at", "actor", "seconds"}
        {"state": "failed", "error" (Dutch, no personal data), "started_at", "finished_at", "actor"}

    The database URL goes to the subprocess in its environment, never on
    its command line. Its log (no personal data) is <versions>/retrain.log.
    """

    def __init__(self, registry: ModelRegistry, training_data_dir: Path | str, db_url: str, *,
                 municipality_file: Path | str | None = None, nice: int = 10, python: str = sys.executable):
        self.registry = registry
        self.training_data_dir = Path(training_data_dir)
        self.db_url = db_url
        self.municipality_file = municipality_file
        self.nice = nice
        self.python = python
        self._lock = threading.Lock()
        self._state: dict = {"state": "idle"}
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def status(self) -> dict:
        with self._lock:
            return dict(self._state)

    def start(self, actor: str) -> dict:
        """Start a training; returns the running status. Raises TrainingBusy."""
        from .config import REPO_DIR

        with self._lock:
            if self._state["state"] == "running" or self.registry.training_running():
                raise TrainingBusy()
            root = self.registry.root
            root.mkdir(parents=True, exist_ok=True)
            env = {**os.environ,
                   "TRIAGE_DB_URL": self.db_url,
                   "TRIAGE_MODEL_VERSIONS_DIR": str(root.resolve()),
                   "TRIAGE_MODEL_DIR": str(self.registry.shipped.resolve()),
                   "TRIAGE_TRAINING_DATA_DIR": str(self.training_data_dir.resolve()),
                   "TRIAGE_MODEL_MIN_CRISIS_RECALL": str(self.registry.min_crisis_recall),
                   "TRIAGE_RETRAIN_ACTOR": actor,
                   "TRIAGE_RETRAIN_NICE": str(self.nice),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH")]))}
            if self.municipality_file:
                env["TRIAGE_MUNICIPALITY_FILE"] = str(Path(self.municipality_file).resolve())
            with open(root / "retrain.log", "w", encoding="utf-8") as logf:
                self._proc = subprocess.Popen([self.python, "-m", "triage.retrain"], stdin=subprocess.DEVNULL,
                                              stdout=subprocess.PIPE, stderr=logf, env=env)
            self._state = {"state": "running", "started_at": _now(), "actor": actor}
            t0 = time.monotonic()
            self._thread = threading.Thread(target=self._watch, args=(self._proc, dict(self._state), t0),
                                            name="retrain", daemon=True)
            self._thread.start()
            log.info("retraining started in process %d", self._proc.pid)
            return dict(self._state)

    def _watch(self, proc: subprocess.Popen, running: dict, t0: float) -> None:
        out, _ = proc.communicate()
        result = {}
        for line in reversed((out or b"").decode("utf-8", "replace").splitlines()):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
        base = {"started_at": running["started_at"], "actor": running["actor"], "finished_at": _now(),
                "seconds": round(time.monotonic() - t0, 1)}
        if proc.returncode == 0 and result.get("ok"):
            state = {"state": "done", "version": result["version"], **base}
        else:
            error = result.get("error") or (
                "De training is gestopt." if proc.returncode and proc.returncode < 0 else "De training is mislukt.")
            state = {"state": "failed", "error": error, **base}
        log.info("retraining %s (%s)", state["state"], state.get("version") or f"exit {proc.returncode}")
        with self._lock:
            if self._proc is proc:
                self._state = state

    def wait(self, timeout: float | None = None) -> dict:
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.status()

    def stop(self) -> None:
        """Stop a running training (the process this job started)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._thread is not None:
            self._thread.join(10)


# ------------------------------------------------------------ subprocess entry
def main() -> int:
    """``python -m triage.retrain``: one training run with the settings from
    the environment. Prints one JSON line: {"ok": true, "version": ...} or
    {"ok": false, "error": "..."} (Dutch, no personal data)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        os.nice(int(os.environ.get("TRIAGE_RETRAIN_NICE", "10")))
    except (OSError, ValueError, AttributeError):
        pass
    from .config import get_settings
    from .store import Store

    actor = os.environ.get("TRIAGE_RETRAIN_ACTOR") or "system"
    try:
        settings = get_settings()
        store = Store(settings.database_url())
        registry = ModelRegistry(settings.model_versions_path(), settings.model_dir, store=store,
                                 min_crisis_recall=settings.model_min_crisis_recall)
        info = registry.train_candidate(settings.training_data_dir, store, actor,
                                        log_fn=lambda m: print(m, file=sys.stderr, flush=True))
    except ModelError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), flush=True)
        return 1
    except Exception as exc:  # no message text: it may quote data
        log.error("training failed (%s)\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
        print(json.dumps({"ok": False, "error": f"De training is mislukt ({type(exc).__name__}). "
                                                "Kijk in retrain.log in de map met modelversies."}), flush=True)
        return 1
    print(json.dumps({"ok": True, "version": info["version"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
