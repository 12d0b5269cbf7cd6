from fastapi.testclient import TestClient

from conftest import REPO
from triage.web.app import create_app


def test_api_classify_and_openapi():
    with TestClient(create_app(REPO / "models")) as client:
        r = client.post("/api/classify", json={"text": "Hoe kan ik grofvuil laten ophalen?", "channel": "chat"})
        assert r.status_code == 200
        body = r.json()
        assert body["category"] == "info_advies" and body["answer_text"]
        assert "{" not in body["answer_text"]
        r = client.post("/api/classify", json={"text": "I want to end my life tonight", "channel": "chat"})
        assert r.json()["route"] == "crisis" and "0800-0113" in r.json()["answer_text"]
        assert client.post("/api/classify", json={"text": "  "}).status_code == 422
        spec = client.get("/openapi.json").json()
        assert "/api/classify" in spec["paths"]
