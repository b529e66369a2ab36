"""`lab check` gives every grader labs' fixtures (labs.grading.plugin.FIXTURE_PLUGINS); so does this file when
pytest runs a grader directly (`pytest graders/test_NN_slug.py` grades the attempt started with `lab start`)."""

import pytest

from labs.grading.plugin import FIXTURE_PLUGINS


def pytest_configure(config: pytest.Config) -> None:
    for plugin in FIXTURE_PLUGINS:
        config.pluginmanager.import_plugin(plugin)
