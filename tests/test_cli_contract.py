"""The `triage classify --jsonl` contract (design.md): one line per input,
in order, exactly the contract keys, clear errors with line numbers."""

import json
import subprocess
import sys

from conftest import REPO, write_jsonl

KEYS = {"id", "category", "domains", "confidence", "fields", "consent", "route", "answer_id", "reasons"}
CATEGORIES = {"info_advies", "enkelvoudig", "meervoudig", "crisis"}


def run_cli(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "triage", *args], input=stdin, capture_output=True,
                          cwd=REPO, timeout=120)


def test_jsonl_order_keys_and_values(tmp_path):
    rows = [
        {"id": "a", "channel": "email", "subject": "traplift", "text": "Ik kom de trap niet meer op en wil een traplift aanvragen. Groet, Mw. Jansen, tel 06-12345678"},
        {"id": "b", "channel": "chat", "text": "ik wil er een eind aan maken vannacht"},
        {"id": "c", "channel": "phone", "text": "Dhr. vraagt hoe hij grofvuil kan laten ophalen."},
        {"id": 4, "channel": "telegram", "text": "we hebben schulden en mijn zoon spijbelt en ik ben zo somber"},
    ]
    p = write_jsonl(tmp_path / "in.jsonl", rows)
    out = run_cli("classify", "--jsonl", str(p))
    assert out.returncode == 0, out.stderr.decode()
    lines = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert [l["id"] for l in lines] == ["a", "b", "c", 4]
    for l in lines:
        assert set(l) == KEYS
        assert l["category"] in CATEGORIES
        assert 0.0 <= l["confidence"] <= 1.0
        assert l["consent"] in {"ja", "nee", "onbekend"}
        assert l["route"] in {"crisis", "auto_answer", "bureaudienst", "kcc_review"}
        assert isinstance(l["reasons"], list) and l["reasons"]
        assert l["fields"]["aanmelder"] in {"inwoner", "naaste", "partner"}
    assert lines[1]["category"] == "crisis" and lines[1]["route"] == "crisis" and lines[1]["answer_id"] == "kb-crisis"
    assert lines[0]["fields"].get("telefoon") == "0612345678"
    assert lines[0]["fields"].get("naam") == "Jansen"


def test_stdin_and_bad_lines_keep_order_and_fail_the_exit_status():
    good = json.dumps({"id": "ok1", "channel": "email", "text": "Waar vraag ik bijstand aan?"})
    stdin = "\n".join([
        good,
        "{not json",
        json.dumps({"id": "empty", "channel": "chat", "text": "   "}),
        json.dumps({"id": "notext", "channel": "chat"}),
        json.dumps({"id": "ok2", "channel": "chat", "text": "hallo, is het stadhuis morgen open?"}),
    ]).encode() + b"\n" + json.dumps({"id": "bin", "text": "x"}).encode()[:-3] + b"\xff\xfe\"}\n"
    out = run_cli("classify", "--jsonl", "-", stdin=stdin)
    assert out.returncode == 1
    lines = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert len(lines) == 6
    assert [l["id"] for l in lines] == ["ok1", None, "empty", "notext", "ok2", "bin"]
    assert lines[0]["category"] and lines[4]["category"]
    assert "line 2" in lines[1]["error"] and "invalid JSON" in lines[1]["error"]
    assert lines[2]["error"].endswith("empty text") and lines[2]["route"] == "kcc_review"
    assert "'text'" in lines[3]["error"]
    assert "invalid UTF-8" in lines[5]["warning"] and lines[5]["category"] in CATEGORIES
    err = out.stderr.decode()
    assert "line 2" in err and "line 3" in err and "line 6" in err


def test_huge_and_garbage_text_are_classified(tmp_path):
    big = ("Ik heb schulden en de deurwaarder komt. " * 30000)[:1_000_000]
    garbage = "".join(chr(c) for c in range(1, 2000) if chr(c).isprintable())
    p = write_jsonl(tmp_path / "big.jsonl", [{"id": "big", "text": big}, {"id": "garbage", "text": garbage}])
    out = run_cli("classify", "--jsonl", str(p))
    assert out.returncode == 0, out.stderr.decode()
    lines = [json.loads(l) for l in out.stdout.decode().splitlines()]
    assert [l["id"] for l in lines] == ["big", "garbage"]
    assert all(l["category"] in CATEGORIES for l in lines)


def test_missing_file_and_no_other_stdout(tmp_path):
    out = run_cli("classify", "--jsonl", str(tmp_path / "nope.jsonl"))
    assert out.returncode == 2 and out.stdout == b""
    assert b"no such file" in out.stderr


def test_readable_single_message():
    out = run_cli("classify", "Mijn man slaat me, ik zit met de kinderen in de badkamer")
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "categorie:   crisis" in text and "route:       crisis" in text
