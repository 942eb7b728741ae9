"""Retrain jobs: queued by an engineer, claimed atomically by a worker, reported on with PATCH."""

from __future__ import annotations

from api.security import Role


def test_retrain_job_lifecycle(api_factory) -> None:
    api = api_factory(None)
    created = api.post("/api/v1/retrains", role=Role.ENGINEER, json={"product": "widget", "reason": "drift"})
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "queued" and job["requested_by"] == "engineer-1"
    assert api.post("/api/v1/retrains", role=Role.SUPERVISOR, json={"product": "widget"}).status_code == 403

    queued = api.get("/api/v1/retrains", params={"status": "queued"}).json()
    assert [j["id"] for j in queued] == [job["id"]]
    patch_early = api.client.patch(
        f"/api/v1/retrains/{job['id']}", headers=api.headers(Role.ENGINEER), json={"status": "succeeded"}
    )
    assert patch_early.status_code == 409

    claim = api.post(f"/api/v1/retrains/{job['id']}/claim", role=Role.ENGINEER, json={"worker": "trainer-a"})
    assert claim.status_code == 200 and claim.json()["status"] == "running"
    again = api.post(f"/api/v1/retrains/{job['id']}/claim", role=Role.ENGINEER)
    assert again.status_code == 409 and "trainer-a" in again.json()["error"]["message"]

    admin = api.headers(Role.ADMIN)
    progress = api.client.patch(
        f"/api/v1/retrains/{job['id']}", headers=admin, json={"progress": 0.5, "message": "ep 5"}
    )
    assert progress.status_code == 200 and progress.json()["progress"] == 0.5
    done = api.client.patch(
        f"/api/v1/retrains/{job['id']}",
        headers=admin,
        json={"status": "succeeded", "result": {"model_version": "7"}},
    )
    assert done.status_code == 200 and done.json()["finished_at"] is not None
    final = api.client.patch(f"/api/v1/retrains/{job['id']}", headers=admin, json={"status": "failed"})
    assert final.status_code == 409
    assert api.get(f"/api/v1/retrains/{job['id']}").json()["result"] == {"model_version": "7"}
    assert api.get("/api/v1/retrains/999").status_code == 404
    assert api.post("/api/v1/retrains", role=Role.ENGINEER, json={"product": "x" * 65}).status_code == 422
