"""Grading: run a scenario's pytest module as criteria with points (plugin), fixtures, probes and helpers."""
