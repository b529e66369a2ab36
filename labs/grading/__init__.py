"""The grading engine: run a scenario's pytest module as criteria with points (plugin), what it grades (context)
and the report. What graders call is labs.graderlib."""
