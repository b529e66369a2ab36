"""Exam mode: weighted tasks across the CKS domains, all set up at once, a wall-clock time limit that survives a
reboot, and one grading at the end against the pass mark (`lab exam start | status | task | submit | clean`)."""
