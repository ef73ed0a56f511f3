"""Jobs give the same results on local processes and on Ray (a local Ray instance stands in
for a cluster)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.cli import app
from uspd.config import Config
from uspd.model.data import SceneSpec, render_scenes
from uspd.parallel import map_jobs, ray_cluster

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    with ray_cluster("local", workers=2):
        yield
    assert not ray.is_initialized()  # the block started Ray, so it stopped it


@pytest.mark.slow  # starting Ray takes ~15 s
def test_jobs_come_back_in_job_order_on_ray(local_ray):
    finished = []
    results = map_jobs(abs, [-3, 1, -2, 5], cost=abs, on_done=lambda job, result: finished.append(job))
    assert results == [3, 1, 2, 5]
    assert sorted(finished) == [-3, -2, 1, 5]


@pytest.mark.slow
def test_a_small_corpus_renders_identically_on_ray_and_on_the_process_pool(local_ray):
    specs = [SceneSpec("rare_events_home", 200_000 + i, 8.0) for i in range(3)]
    on_ray = render_scenes(specs, Config())
    with ray_cluster(None):  # inside it, the local pool again
        local = render_scenes(specs, Config())
    assert [s.spec for s in on_ray] == specs
    for a, b in zip(on_ray, local):
        assert len(a) == 397  # 80 ms frames every 20 ms over 8 s
        for field in ("features", "missing", "target", "nonhuman"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(a.distance_m, b.distance_m)  # NaN where nobody: equal positions
        assert np.abs(a.features.astype(float)).sum() > 0


def test_an_unreachable_cluster_is_one_sentence_and_exit_code_2(tmp_path):
    result = CliRunner().invoke(app, ["evaluate", "--hours", "0.01", "--ray-address", "127.0.0.1:1",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in result.output
    assert not ray.is_initialized() and not any(tmp_path.iterdir())
