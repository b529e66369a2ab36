"""CKS practice lab and grader."""

__version__ = "0.1.0"
