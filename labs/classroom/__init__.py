"""Instructor grading of a class: one cluster per student, graded in parallel from the instructor's checkout, with
CSV, JSON, JUnit XML and HTML reports (`lab grade --inventory class.yml`, docs/instructors.md)."""
