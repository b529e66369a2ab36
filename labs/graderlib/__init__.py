"""The library graders call: probes that prove they ran, pods and Deployments as the API server runs them, the node's
processes and files, kube-apiserver's flags and audit log, Falco's configuration, rules and live output, and the
fixtures every grader gets (fixtures.py, falco_fixtures.py, apiserver_fixtures.py). The engine that runs graders is
labs.grading; it imports nothing of this package."""
