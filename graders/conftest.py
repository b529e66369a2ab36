"""`lab check` gives every grader labs' fixtures (labs.grading.plugin.FIXTURE_PLUGINS) and what to grade; so does
this file when pytest runs a grader directly (`pytest graders/test_NN_slug.py` grades the attempt started with
`lab start`)."""

import pytest

from labs.grading.context import CONTEXT_KEY, GradingContext
from labs.grading.plugin import FIXTURE_PLUGINS


def pytest_configure(config: pytest.Config) -> None:
    for plugin in FIXTURE_PLUGINS:
        config.pluginmanager.import_plugin(plugin)


@pytest.fixture(scope="session")
def grading_context(request: pytest.FixtureRequest) -> GradingContext:
    """What `lab check` grades; in a plain pytest run, the attempt started with `lab start`."""
    context = request.config.stash.get(CONTEXT_KEY, None)
    if context is None:
        from labs.session import current_context

        context = current_context()
    return context
