"""Batch pre-generation (plan, skip cached, resume), the pregenerate CLI, job resumption in
embedded mode and the worker command line (pools that are safe with CUDA)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genperso.catalog import session_scope
from genperso.catalog.assets import BatchItemRow, JobRepo, JobRow
from serving_support import SwatchGenerator, add_title, drain, make_pipeline


def test_batch_skips_cached_and_resumes(settings):
    from genperso.batch import run_batch

    add_title(settings, "t1")
    add_title(settings, "t2")
    pipe = make_pipeline(settings)
    SwatchGenerator.calls = 0
    s1 = run_batch(pipe, top=2, angles=["action", "drama"], kinds=["artwork"], wait=True, timeout_s=30)
    assert s1.items == 4 and s1.counts == {"done": 4} and SwatchGenerator.calls == 4
    # a second batch finds everything cached
    s2 = run_batch(pipe, top=2, angles=["action", "drama"], kinds=["artwork"], wait=True)
    assert s2.counts == {"cached": 4} and SwatchGenerator.calls == 4
    # resume: an item whose job failed (e.g. the process died) is queued again, the rest kept
    with session_scope(settings) as s:
        item = s.query(BatchItemRow).filter_by(batch_id=s1.batch_id).first()
        item.status = "failed"
        digest = item.asset_id
        from genperso.catalog.assets import AssetRepo

        AssetRepo(s).delete([digest])
    s3 = run_batch(pipe, batch_id=s1.batch_id, wait=True, timeout_s=30)
    assert s3.counts == {"done": 4} and SwatchGenerator.calls == 5
    pipe.dispatcher.shutdown()


def test_batch_errors(settings):
    from genperso.batch import run_batch
    from genperso.errors import NotFound

    pipe = make_pipeline(settings)
    with pytest.raises(NotFound, match="no analysed titles"):
        run_batch(pipe, top=3)
    add_title(settings, "t1")
    with pytest.raises(NotFound, match="unknown angle"):
        run_batch(pipe, top=1, angles=["nope"])
    with pytest.raises(NotFound, match="unknown batch"):
        run_batch(pipe, batch_id="missing")
    pipe.dispatcher.shutdown()


def test_pregenerate_cli_embedded(settings, monkeypatch):
    monkeypatch.setenv("GENPERSO_PIPELINE_FACTORY", "serving_support:worker_pipeline")
    from genperso.cli import app
    from genperso.pipeline import reset_pipelines

    add_title(settings, "t1")
    reset_pipelines()
    r = CliRunner().invoke(app, ["pregenerate", "--top", "1", "--angles", "action,comedy", "--kinds", "artwork",
                                 "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["items"] == 2 and out["generated"] == 2 and out["failed"] == 0
    r = CliRunner().invoke(app, ["pregenerate", "--top", "1", "--angles", "action,comedy", "--json"])
    assert json.loads(r.output.strip().splitlines()[-1])["cached"] == 2
    reset_pipelines()


def test_keys_create_cli(settings):
    from genperso.catalog.assets import api_key_role
    from genperso.cli import app

    r = CliRunner().invoke(app, ["keys", "create", "--role", "reviewer"])
    assert r.exit_code == 0
    key = r.output.strip()
    with session_scope(settings) as s:
        assert api_key_role(s, key) == "reviewer"
        assert api_key_role(s, key + "x") is None


def test_resume_pending_jobs(settings):
    """Embedded mode: a job an interrupted process left queued is run by the next process."""
    from genperso.jobs import resume_pending
    from genperso.types import Context, UserProfile

    add_title(settings, "t1")

    class NoRun:
        def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
            pass  # the "crashed" process accepted the job and never ran it

    dead = make_pipeline(settings, dispatcher=NoRun())
    k = dead.personalize(UserProfile("u1"), "t1", ["artwork"], Context()).results["artwork"]
    assert dead.job(k.job_id)["status"] == "queued"
    live = make_pipeline(settings)
    assert resume_pending(settings, live.dispatcher) == 1
    drain(live)
    assert live.job(k.job_id)["status"] == "done"
    with session_scope(settings) as s:
        assert JobRepo(s).pending() == [] and s.query(JobRow).count() == 1
    live.dispatcher.shutdown()


@pytest.mark.parametrize("queues,conc,device,pool", [
    (["gpu"], 1, "cuda", "solo"),
    (["gpu", "cpu"], 4, "cuda:0", "threads"),
    (["cpu"], 2, "cuda", "prefork"),
    (["gpu"], 2, "cpu", "prefork"),
])
def test_worker_pool_is_cuda_safe(queues, conc, device, pool):
    from genperso.cli.serve import worker_argv

    argv = worker_argv(queues, conc, None, device)
    assert argv[argv.index("--pool") + 1] == pool
    assert argv[argv.index("-Q") + 1] == ",".join(queues)
    assert argv[argv.index("--prefetch-multiplier") + 1] == "1"


def test_queue_routing(settings, monkeypatch):
    from genperso.pipeline import queue_for

    assert {queue_for(k, settings) for k in ("trailer", "artwork", "titles", "remix")} == {"cpu"}
    monkeypatch.setattr(settings, "device", "cuda")
    assert [queue_for(k, settings) for k in ("trailer", "artwork", "titles", "remix")] == ["gpu", "gpu", "gpu", "cpu"]


def test_celery_app_settings():
    import workers.tasks  # noqa: F401 - registers the tasks
    from workers.app import app

    assert {"genperso.generate_asset", "genperso.analyse_title", "genperso.generate_trailer",
            "genperso.generate_artwork", "genperso.generate_titles", "genperso.generate_remix"} <= set(app.tasks)
    c = app.conf
    assert c.task_acks_late and c.worker_prefetch_multiplier == 1 and c.task_reject_on_worker_lost
    assert c.task_soft_time_limit < c.task_time_limit
    assert {q.name for q in c.task_queues} == {"gpu", "cpu"}
