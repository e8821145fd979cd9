"""Shared test configuration: hypothesis profiles.

HYPOTHESIS_PROFILE selects one: "ci" (the default; sized for the 2-core CI
machine), "dev" (more examples), "slow" (campaigns run with -m slow).
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("slow", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """Every `tcgpy run` of the session shares one persistent translation
    cache, new for the session (the cache is on by default, as for users;
    workers inherit the variable)."""
    if hasattr(config, "workerinput") or "TCGPY_CACHE_DIR" in os.environ:
        return
    import tempfile
    os.environ["TCGPY_CACHE_DIR"] = tempfile.mkdtemp(prefix="tcgpy-test-cache-")
    config._tcgpy_cache_dir = os.environ["TCGPY_CACHE_DIR"]


def pytest_unconfigure(config):
    d = getattr(config, "_tcgpy_cache_dir", None)
    if d:
        import shutil
        from tcgpy.pcache import wait_for_writers
        wait_for_writers(d, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


import pytest  # noqa: E402


@pytest.fixture
def no_baseline(monkeypatch):
    """Missed blocks go to the cold tier's interpreter and then LLVM, as
    without the baseline tier (TCGPY_BASELINE=0): for the tests of that
    machinery, which the baseline tier bypasses for the blocks it emits."""
    from tcgpy.backends import baseline
    monkeypatch.setattr(baseline, "ENABLED", False)
