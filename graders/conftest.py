"""Fixtures shared by every grader: `params`, `kube`, `node`, `exec_probe` (see labs/grading/fixtures.py).

`lab check` runs a grader with the attempt's context; `pytest graders/test_NN_slug.py` grades the started attempt.
"""

from labs.grading.fixtures import (  # noqa: F401 - fixtures and the points marker, re-exported for the graders
    exec_probe,
    grading_context,
    kube,
    node,
    params,
    pytest_configure,
)
