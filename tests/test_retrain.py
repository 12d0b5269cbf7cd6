"""Retraining with the corrections, model versions, the safety gate,
activation and rollback in the running product, the background job and
`triage model`. Real SQLite files and real (small) training, no mocks."""

import json
import shutil
import uuid
from pathlib import Path

import pytest
from sqlmodel import select

from conftest import REPO
from servers import free_port
from triage import crisis
from triage.dataset import is_heldout, load_records
from triage.normalize import normalize
from triage.pipeline import TriageResult
from triage.retrain import (SHIPPED, ActivationRefused, ModelRegistry, NothingToRollBack, RetrainJob, TrainingBusy,
                            UnknownVersion, correction_records)
from triage.store import Event, Store, utcnow

SRC = REPO / "training_data"


# ------------------------------------------------------------ helpers
def make_case(store, text, category, domains, *, subject="Vraag", kanaal="email", aanmelder="naaste"):
    """A stored, triaged case as intake makes it (the triage given, not computed)."""
    key = f"<{uuid.uuid4().hex}@example.nl>"
    rec, _ = store.save_inbound(kanaal=kanaal, channel_message_id=key, idempotency_key=key, afzender="a@example.nl",
                                afzender_naam=None, onderwerp=subject, inhoud=text, raw=None)
    result = TriageResult(id=str(rec.id), category=category, domains=list(domains), confidence=0.5,
                          fields={"aanmelder": aanmelder}, route="bureaudienst" if category != "info_advies" else "kcc_review")
    return store.record_triage(rec.id, result, hulpvraag=text[:80]).case_number


def events(store, action):
    with store.session() as s:
        return s.exec(select(Event).where(Event.action == action).order_by(Event.id)).all()


def _lines():
    out = []
    for f in sorted((SRC / "messages").glob("*.jsonl")):
        out += [l for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
    return out


def _tiny(root: Path, keep) -> Path:
    (root / "messages").mkdir(parents=True)
    (root / "messages" / "tiny.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    (root / "kennisbank").mkdir()
    shutil.copy(SRC / "kennisbank" / "answers.jsonl", root / "kennisbank")  # no examples.jsonl: faster
    return root


def _rule_fires(raw: dict) -> bool:
    n = normalize(raw["text"], raw.get("subject"))
    return bool(crisis.detect((n.subject + "\n" if n.subject else "") + n.body))


@pytest.fixture(scope="module")
def data_small(tmp_path_factory):
    """Every tenth training record, and held-out messages whose crisis
    messages are the ones the crisis rules catch: a small model then
    reaches the crisis gate (the gate itself is tested below)."""
    keep = []
    for i, line in enumerate(_lines()):
        raw = json.loads(line)
        if not is_heldout(raw["id"]):
            if i % 10 == 0:
                keep.append(line)
        elif i % 3 == 0 and (raw["category"] != "crisis" or _rule_fires(raw)):
            keep.append(line)
    return _tiny(tmp_path_factory.mktemp("small"), keep)


@pytest.fixture(scope="module")
def data_hard(tmp_path_factory):
    """Every tenth record, held-out split as it comes: a small model misses crisis messages here."""
    return _tiny(tmp_path_factory.mktemp("hard"), [l for i, l in enumerate(_lines()) if i % 10 == 0])


@pytest.fixture(scope="module")
def corrected_store(tmp_path_factory):
    """20 cases (training texts not in the small data) the model got wrong
    and an agent corrected to the right labels."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('db') / 'corr.db'}")
    store.migrate()
    picked = [json.loads(l) for i, l in enumerate(_lines()) if i % 10 == 5]
    picked = [r for r in picked if not is_heldout(r["id"])][:20]
    wrong = {"info_advies": "enkelvoudig", "enkelvoudig": "meervoudig", "meervoudig": "enkelvoudig",
             "crisis": "meervoudig"}
    for r in picked:
        number = make_case(store, r["text"], wrong[r["category"]], [], subject=r.get("subject") or "Vraag")
        store.correct_case(number, "kcc1", category=r["category"], domains=r["domains"])
    yield store
    store.engine.dispose()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_small, corrected_store):
    """(registry root, version info) of one candidate trained on the small data plus the corrections."""
    root = tmp_path_factory.mktemp("versions")
    registry = ModelRegistry(root, REPO / "models", store=corrected_store)
    info = registry.train_candidate(data_small, corrected_store, actor="beheerder1")
    return root, info


@pytest.fixture
def root(tmp_path, trained):
    """A fresh versions folder holding the trained candidate (nothing active)."""
    src, info = trained
    dst = tmp_path / "versions"
    dst.mkdir()
    shutil.copytree(src / info["version"], dst / info["version"])
    return dst


# ------------------------------------------------------------ corrections
def test_correction_records_latest_wins_and_skips_anonymised_empty_and_duplicates(store):
    a = make_case(store, "Mijn moeder redt het niet meer thuis en de schulden stapelen zich op.", "enkelvoudig",
                  ["wmo"], subject="Hulp voor moeder")
    store.correct_case(a, "kcc1", category="meervoudig")
    store.correct_case(a, "kcc2", category="crisis", domains=["ggz", "wonen"])  # latest wins
    b = make_case(store, "Ik zoek informatie over de kwijtschelding van gemeentebelasting.", "info_advies", [],
                  kanaal="phone", aanmelder="inwoner")
    store.correct_case(b, "kcc1", domains=["schulden"])  # category not corrected: stays info_advies
    c = make_case(store, "Oude zaak, gesloten en geanonimiseerd na de bewaartermijn.", "info_advies", [])
    store.correct_case(c, "kcc1", category="enkelvoudig", domains=["jeugd"])
    store.close_case(c, "test", when=utcnow().replace(year=utcnow().year - 5))
    assert store.run_retention(365) == 1
    d = make_case(store, "  mijn moeder redt het niet meer thuis en de schulden   stapelen zich op. ", "info_advies", [])
    store.correct_case(d, "kcc1", category="enkelvoudig", domains=["schulden"])  # same text as a, corrected later
    e = make_case(store, "", "info_advies", [])
    store.correct_case(e, "kcc1", category="enkelvoudig", domains=["wmo"])  # no text
    make_case(store, "Geen correctie op deze zaak.", "info_advies", [])

    recs = correction_records(store)
    with store.session() as s:
        from triage.store import Case

        ids = {c.number: c.id for c in s.exec(select(Case)).all()}
    assert [r.id for r in recs] == [f"corr-{ids[b]}", f"corr-{ids[d]}"]
    rb, rd = recs
    assert (rb.category, rb.domains, rb.channel, rb.fields["aanmelder"]) == ("info_advies", ("schulden",), "phone", "inwoner")
    # the duplicate text: the most recently corrected case keeps it
    assert (rd.category, rd.domains, rd.channel, rd.subject) == ("enkelvoudig", ("schulden",), "email", "Vraag")
    store.correct_case(a, "kcc3", domains=["ggz", "schulden", "wonen"])  # now a is the newest
    recs = {r.id: r for r in correction_records(store)}
    ra = recs[f"corr-{ids[a]}"]
    assert f"corr-{ids[d]}" not in recs
    assert (ra.category, ra.domains, ra.subject, ra.fields["aanmelder"]) == (
        "crisis", ("ggz", "schulden", "wonen"), "Hulp voor moeder", "naaste")


# ------------------------------------------------------------ training and versions
def test_candidate_trained_with_corrections_and_measured_beside_the_active_model(trained, corrected_store):
    root, info = trained
    v = info["version"]
    assert info["n_corrections"] == 20 and info["created_by"] == "beheerder1" and info["status"] == "candidate"
    assert (root / v / "text_models.npz").is_file() and (root / v / "kennisbank_model.npz").is_file()
    assert not list(root.glob(".tmp-*"))
    manifest = json.loads((root / v / "manifest.json").read_text())
    assert manifest["n_extra"] == 20
    cand, active = info["metrics"], info["compared_with"]["metrics"]
    assert info["compared_with"]["version"] == SHIPPED
    for m in (cand, active):
        assert m["n"] == info["n_heldout"] > 50
        assert {"macro_f1", "accuracy", "crisis_recall", "crisis_precision", "domain_micro_f1"} <= set(m)
        assert set(m["per_class"]) == {"info_advies", "enkelvoudig", "meervoudig", "crisis"}
    assert cand["crisis_recall"] == active["crisis_recall"] == 1.0  # the rules catch these crisis messages
    assert info["can_activate"] and info["why_not"] is None

    registry = ModelRegistry(root, REPO / "models")
    rows = registry.versions()
    assert [r["version"] for r in rows] == [v, SHIPPED]
    assert rows[1]["active"] and rows[1]["metrics"]["macro_f1"] > 0.8  # models/metrics.json
    assert rows[0]["can_activate"] and rows[0]["status"] == "candidate"
    cmp = registry.compare(v)
    assert cmp["same_run"] and cmp["active"]["metrics"] == active and cmp["candidate"]["metrics"] == cand

    (ev,) = [e for e in events(corrected_store, "model_trained") if e.detail["version"] == v]
    assert ev.actor == "beheerder1" and ev.detail["version"] == v and ev.detail["n_corrections"] == 20
    assert set(ev.detail) == {"version", "n_corrections", "macro_f1", "crisis_recall", "active_version",
                              "active_macro_f1", "active_crisis_recall"}


def _settings(tmp_path, root, **kw):
    from triage.config import get_settings

    kw = {"smtp_enabled": False, "workers": 0, **kw}
    return get_settings(data_dir=tmp_path / "data", model_versions_dir=str(root), telegram_token="", **kw)


def test_activation_and_rollback_swap_the_models_everywhere_and_survive_a_restart(tmp_path, root, trained):
    from triage.service import Service
    from triage.workers import loaded_model_dir

    v = trained[1]["version"]
    service = Service(_settings(tmp_path, root, smtp_port=free_port(), smtp_enabled=True, workers=1)).start()
    try:
        assert service.model_version == SHIPPED and service.triage.model_dir == REPO / "models"
        live = service.live_triage  # what the web app holds
        text = "Ik wil graag weten hoe ik een parkeervergunning voor mijn moeder met een beperking aanvraag."
        before = service.triage.classify(text).probabilities

        info = service.activate_model(v, "beheerder1")
        assert info["version"] == v and service.model_version == v
        new = service.triage
        assert new.model_dir == root / v and live.model_dir == root / v
        assert service.intake.triage is new and service.chat.engine.triage is new
        assert service.chat.engine.kennisbank is new.kennisbank
        assert service.pool.submit(loaded_model_dir).result(timeout=60) == str(root / v)
        assert service.smtp.handler.pool is service.pool
        assert service.triage.classify(text).probabilities != before
        assert service.model_info()["version"] == v
    finally:
        service.stop()

    service = Service(_settings(tmp_path, root)).start()  # restart: the active version is loaded
    try:
        assert service.model_version == v and service.triage.model_dir == root / v
        info = service.rollback_model("beheerder2")
        assert info["version"] == SHIPPED and service.triage.model_dir == REPO / "models"
        assert service.intake.triage is service.triage
        with pytest.raises(NothingToRollBack) as exc:
            service.rollback_model("beheerder2")
        assert "Er is geen eerdere modelversie" in str(exc.value)
        acts = [(e.actor, e.action, e.detail) for e in events(service.store, "model_activated")]
        backs = [(e.actor, e.action, e.detail) for e in events(service.store, "model_rolled_back")]
        assert acts == [("beheerder1", "model_activated", {"version": v, "previous": SHIPPED, "crisis_recall": 1.0,
                                                           "macro_f1": trained[1]["metrics"]["macro_f1"]})]
        assert backs == [("beheerder2", "model_rolled_back", {"version": SHIPPED, "from": v})]
    finally:
        service.stop()
    service = Service(_settings(tmp_path, root)).start()
    try:
        assert service.model_version == SHIPPED
        rows = {r["version"]: r for r in service.registry.versions()}
        assert rows[v]["status"] == "rolled_back" and rows[SHIPPED]["active"]
        assert [h["action"] for h in service.registry.history()] == ["activated", "rolled_back"]
    finally:
        service.stop()


def _crafted(root: Path, v: str, name: str, recall: float, active_recall: float) -> str:
    """A copy of version ``v`` whose measured crisis recall is set by hand."""
    shutil.copytree(root / v, root / name)
    info = json.loads((root / name / "version.json").read_text())
    info["version"] = name
    info["metrics"]["crisis_recall"] = recall
    info["compared_with"]["metrics"]["crisis_recall"] = active_recall
    (root / name / "version.json").write_text(json.dumps(info))
    return name


def test_safety_gate_refuses_lower_crisis_recall(tmp_path, root, trained):
    from triage.service import Service

    v = trained[1]["version"]
    lower = _crafted(root, v, "20991231-000001", 0.97, 0.99)  # above the floor, below the active model
    floor = _crafted(root, v, "20991231-000002", 0.94, 0.90)  # better than the active model, below 0.95
    registry = ModelRegistry(root, REPO / "models")
    rows = {r["version"]: r for r in registry.versions()}
    assert not rows[lower]["can_activate"] and "minder crisisberichten (97,0%)" in rows[lower]["why_not"]
    assert "(99,0%)" in rows[lower]["why_not"]
    assert not rows[floor]["can_activate"] and "minstens 95,0%" in rows[floor]["why_not"]
    assert rows[v]["can_activate"]

    service = Service(_settings(tmp_path, root)).start()
    try:
        for bad in (lower, floor):
            with pytest.raises(ActivationRefused) as exc:
                service.activate_model(bad, "beheerder1")
            assert "Het huidige model blijft actief" in str(exc.value) and exc.value.version == bad
            assert service.model_version == SHIPPED and service.triage.model_dir == REPO / "models"
        assert exc.value.candidate_recall == 0.94 and exc.value.minimum == 0.95
        with pytest.raises(UnknownVersion):
            service.activate_model("../models", "beheerder1")
        assert registry.active() == (SHIPPED, REPO / "models")
        assert events(service.store, "model_activated") == []
        # the active model raises the bar: after v (recall 1.0), v's copy measured 0.99 against it is refused
        service.activate_model(v, "beheerder1")
        again = _crafted(root, v, "20991231-000003", 0.99, 1.0)
        with pytest.raises(ActivationRefused):
            registry.activate(again, "cli:test")
        assert service.activate_model(SHIPPED, "beheerder1")["version"] == SHIPPED  # the baseline: always allowed
    finally:
        service.stop()


def test_retrain_job_runs_in_a_subprocess_and_its_real_candidate_is_refused(tmp_path, root, data_hard, corrected_store):
    """The small model on the plain held-out split misses crisis messages:
    the gate refuses it, with the reason for the beheerder."""
    registry = ModelRegistry(root, REPO / "models", store=corrected_store)
    job = RetrainJob(registry, data_hard, str(corrected_store.url))
    assert job.status() == {"state": "idle"}
    st = job.start("beheerder3")
    assert st["state"] == "running" and st["actor"] == "beheerder3"
    assert "sqlite" not in " ".join(job._proc.args)  # the database URL is not on the command line
    with pytest.raises(TrainingBusy):
        job.start("beheerder4")
    done = job.wait(timeout=180)
    assert done["state"] == "done", done
    assert not registry.training_running()
    info = registry.info(done["version"])
    assert info["created_by"] == "beheerder3" and info["n_corrections"] == 20
    assert info["metrics"]["crisis_recall"] < 0.95
    row = next(r for r in registry.versions() if r["version"] == done["version"])
    assert not row["can_activate"] and "minstens 95,0%" in row["why_not"]
    with pytest.raises(ActivationRefused):
        registry.activate(done["version"], "beheerder3")
    log = (root / "retrain.log").read_text()
    assert "corrected cases" in log and "sqlite" not in log
    assert [e.actor for e in events(corrected_store, "model_trained")][-1] == "beheerder3"


def test_model_cli_and_a_running_service_follows_it(tmp_path, root, trained, monkeypatch, capsys):
    from triage.cli import main
    from triage.service import Service

    v = trained[1]["version"]
    monkeypatch.setenv("TRIAGE_MODEL_VERSIONS_DIR", str(root))
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    service = Service(_settings(tmp_path, root)).start()
    try:
        assert main(["model", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["version"] for r in rows] == [v, SHIPPED]
        assert main(["model", "activate", v]) == 0
        assert service.follow_registry() and service.triage.model_dir == root / v
        assert main(["model", "rollback"]) == 0
        assert service.follow_registry() and service.model_version == SHIPPED
        capsys.readouterr()
        assert main(["model", "rollback"]) == 2
        assert "geen eerdere modelversie" in capsys.readouterr().err
        actors = {e.actor for e in events(service.store, "model_activated") + events(service.store, "model_rolled_back")}
        assert len(actors) == 1 and actors.pop().startswith("cli:")
    finally:
        service.stop()
    pinned = Service(_settings(tmp_path, root), model_dir=REPO / "models").start()
    try:
        from triage.retrain import ModelPinned

        with pytest.raises(ModelPinned):
            pinned.activate_model(v, "beheerder1")
    finally:
        pinned.stop()
