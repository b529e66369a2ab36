"""Scenario 05 is solvable from Falco's alerts: the upstream default rules (as the pinned Falco loads them, with
labs.falco) alert on what the culprit's pods do and on nothing the other workloads do.

The events model what each workload's program (scenarios/05-falco-investigation/templates/run.sh.j2) starts from
its shell loop in a busybox container of the Vagrant cluster (docker.io busybox, whose shell executes its applets
with execve: comm, and Falco's proc.name, is the applet's name); the template is rendered here to keep model and
program in step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
import pytest

from labs.falco import behaviours, load_rules
from labs.falco.behaviours import CONTAINERD_SHIM, RUNC_PARENT, Container, Event, Process

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "05-falco-investigation"
GRADER = Path(__file__).resolve().parents[1] / "graders" / "test_05_falco_investigation.py"
SLOTS = ("storefront", "catalog", "invoices", "mailer")
CGI = "status"
BUSYBOX = "/bin/busybox"  # every applet of the image is a link to it: /proc/<pid>/exe, Falco's proc.exepath
ENTRYPOINT = (RUNC_PARENT, CONTAINERD_SHIM, "systemd")  # `sh /app/run.sh` is started by runc
LOOP = ("sh", *ENTRYPOINT)  # a process started by the loop of run.sh


@pytest.fixture(scope="module")
def ruleset(shared_dir):
    loaded = load_rules([shared_dir / "data" / "falco" / "falco_rules.yaml"])
    assert loaded.ok, [error.as_text() for error in loaded.errors]
    return loaded


def render(slot: str, culprit: str, behaviour: str) -> str:
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (SCENARIO / "templates" / "run.sh.j2").read_text()
    )
    return template.render(slot=slot, culprit=culprit, behaviour=behaviour, cgi=CGI, interval=10)


def container(slot: str) -> Container:
    return Container(id=f"{slot[:4]}0c1d2e3f4", name="app", image_repository="docker.io/library/busybox",
                     image_tag="1.36", pod=f"{slot}-otter-5d8f7c9b6d-x2kqz", namespace="shop-otter")  # fmt: skip


def applet(name: str, *args: str, ancestors: tuple[str, ...] = LOOP) -> Process:
    return Process(name, args=args, exepath=BUSYBOX, ancestors=ancestors)


def workload_events(slot: str) -> list[Event]:
    """What every workload does: its shell starts, writes its page, serves it with httpd, runs its routine."""
    where = container(slot)
    shell = Process("sh", args=("/app/run.sh",), exepath=BUSYBOX, ancestors=ENTRYPOINT)
    httpd = applet("httpd", "-f", "-p", "8080", "-h", "/www")
    routine = {
        "storefront": [behaviours.spawn(applet("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"), where)],
        "catalog": [
            behaviours.spawn(applet("cut", "-d:", "-f1", "/etc/passwd"), where),
            behaviours.open_file("/etc/passwd", applet("cut", "-d:", "-f1", "/etc/passwd"), where),
            behaviours.open_file("/tmp/accounts", shell, where, write=True, create=True),
        ],
        "invoices": [
            behaviours.spawn(applet("date"), where),
            behaviours.open_file("/tmp/invoices.log", shell, where, write=True),
            behaviours.spawn(applet("tail", "-n", "100", "/tmp/invoices.log"), where),
            behaviours.open_file("/tmp/invoices.log", applet("tail", "-n", "100", "/tmp/invoices.log"), where),
        ],
        "mailer": [
            behaviours.spawn(applet("ls", "/var/spool"), where),
            behaviours.spawn(applet("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"), where),
        ],
    }[slot]
    return [
        behaviours.spawn(shell, where),
        behaviours.open_file("/app/run.sh", shell, where),
        behaviours.spawn(applet("mkdir", "-p", "/www/cgi-bin"), where),
        behaviours.open_file("/www/index.html", shell, where, write=True, create=True),
        behaviours.spawn(httpd, where),
        behaviours.open_file("/www/index.html", httpd, where),  # serving the page to the readiness probe
        *routine,
        behaviours.spawn(applet("sleep", "10"), where),
    ]


def culprit_events(slot: str, behaviour: str) -> list[Event]:
    """What the culprit's pods do on top of their routine."""
    where = container(slot)
    shell = Process("sh", args=("/app/run.sh",), exepath=BUSYBOX, ancestors=ENTRYPOINT)
    if behaviour == "shadow-reader":
        cat = applet("cat", "/etc/shadow")
        return [
            behaviours.open_file("/etc/shadow", shell, where, write=True, create=True),  # where the image has none
            behaviours.spawn(cat, where),
            behaviours.open_file("/etc/shadow", cat, where),
        ]
    server = ("httpd", *LOOP)  # busybox httpd forks a child per request; the child executes the CGI script
    script = Process(CGI, exepath=BUSYBOX, ancestors=server)  # comm is the script's name, the binary its #! shell
    web_shell = applet("sh", "-c", "id", ancestors=(CGI, *server))
    return [
        behaviours.open_file(f"/www/cgi-bin/{CGI}", applet("cat"), where, write=True, create=True),
        behaviours.spawn(applet("chmod", "755", f"/www/cgi-bin/{CGI}"), where),
        behaviours.spawn(applet("wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:8080/cgi-bin/{CGI}?id"), where),
        behaviours.spawn(script, where),
        behaviours.spawn(web_shell, where),
        behaviours.spawn(applet("id", ancestors=("sh", CGI, *server)), where),
    ]


EXPECTED_RULE = {"shadow-reader": "Read sensitive file untrusted", "web-shell": "Run shell untrusted"}
MODELLED = {  # what the model assumes, as it must appear in the rendered program
    "workload": ["trap 'exit 0' TERM", "mkdir -p /www/cgi-bin", "> /www/index.html", "httpd -f -p 8080 -h /www &",
                 "sleep 10 & wait $!"],
    "shadow-reader": ["/bin/cat /etc/shadow > /dev/null", "echo 'root:*:19700:0:99999:7:::' > /etc/shadow"],
    "web-shell": [f"cat > /www/cgi-bin/{CGI} <<'CGI'", "#!/bin/sh", '/bin/sh -c "$QUERY_STRING"',
                  f"chmod 755 /www/cgi-bin/{CGI}", f'wget -q -O /dev/null "http://127.0.0.1:8080/cgi-bin/{CGI}?id"'],
}  # fmt: skip
ROUTINES = {
    "storefront": "wget -q -O /dev/null http://127.0.0.1:8080/",
    "catalog": "cut -d: -f1 /etc/passwd > /tmp/accounts",
    "invoices": "date >> /tmp/invoices.log && tail -n 100 /tmp/invoices.log",
    "mailer": "ls /var/spool",
}


@pytest.mark.parametrize("behaviour", sorted(EXPECTED_RULE))
@pytest.mark.parametrize("slot", SLOTS)
def test_the_model_is_what_the_program_runs(slot, behaviour):
    culprit = render(slot, slot, behaviour)
    innocent = render(slot, next(s for s in SLOTS if s != slot), behaviour)
    for line in MODELLED["workload"] + [ROUTINES[slot]]:
        assert line in culprit and line in innocent, line
    for line in MODELLED[behaviour]:
        assert line in culprit and line not in innocent, line
    other = next(b for b in EXPECTED_RULE if b != behaviour)
    assert not any(line in culprit for line in MODELLED[other])


@pytest.mark.parametrize("behaviour", sorted(EXPECTED_RULE))
@pytest.mark.parametrize("slot", SLOTS)
def test_the_default_rules_alert_on_the_culprit_naming_its_pod(ruleset, slot, behaviour):
    alerts = [m for event in culprit_events(slot, behaviour) for m in ruleset.evaluate(event, rule_matching="all")]
    assert {alert.rule for alert in alerts} == {EXPECTED_RULE[behaviour]}
    pod = container(slot).pod
    assert all(f"k8s_pod_name={pod} k8s_ns_name=shop-otter" in alert.output for alert in alerts)


@pytest.mark.parametrize("slot", SLOTS)
def test_the_default_rules_do_not_alert_on_what_every_workload_does(ruleset, slot):
    alerts = [m for event in workload_events(slot) for m in ruleset.evaluate(event, rule_matching="all")]
    assert alerts == [], [f"{alert.rule}: {alert.output}" for alert in alerts]


def test_a_shell_reading_the_file_itself_would_not_be_alerted_on(ruleset):
    """Why the culprit runs `cat`: the rule trusts shells (a redirection `< /etc/shadow` is opened by sh)."""
    shell = Process("sh", args=("/app/run.sh",), exepath=BUSYBOX, ancestors=ENTRYPOINT)
    assert ruleset.evaluate(behaviours.open_file("/etc/shadow", shell, container("catalog"))) == []


def test_the_alert_outputs_show_what_the_solution_text_quotes(ruleset):
    shadow = ruleset.evaluate(culprit_events("catalog", "shadow-reader")[-1])[0]
    assert (shadow.priority, shadow.output.split(" | ")[0]) == ("Warning", "Sensitive file opened for reading by "
                                                                "non-trusted program")  # fmt: skip
    assert "file=/etc/shadow" in shadow.output and "command=cat /etc/shadow" in shadow.output
    web_shell = ruleset.evaluate(culprit_events("catalog", "web-shell")[4])[0]
    assert (web_shell.priority, web_shell.output.split(" | ")[0]) == ("Notice", "Shell spawned by untrusted binary")
    assert f"parent={CGI} command=sh -c id" in web_shell.output and "gparent=httpd" in web_shell.output


def grader():
    """The grader module, for its pure functions."""
    spec = importlib.util.spec_from_file_location("grader_05", GRADER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("pod", "owner"),
    [
        ("catalog-lagoon-6d6fdc6f97-7zjrz", "catalog-lagoon"),  # any pod its ReplicaSet ever started
        ("catalog-lagoon-85df674995-tdq2m", "catalog-lagoon"),  # a pod of a later rollout
        ("storefront-sage-85df674995-76kfs", "storefront-sage"),
        ("catalog-lagoon", None),  # the Deployment's name
        ("catalog-lagoon-6d6fdc6f97", None),  # the ReplicaSet's name
        ("catalog-lagoon-6d6fdc6f97-7zjr", None),  # a character missing
        ("catalog-lagoon-6d6fdc6f97-7zjrz-x", None),
        ("catalog-lagoon-6d6fdc6f97-7aeio", None),  # vowels are never generated
    ],
)
def test_a_pod_name_is_attributed_to_the_deployment_whose_replica_set_named_it(pod, owner):
    owners = {"catalog-lagoon-6d6fdc6f97": "catalog-lagoon", "catalog-lagoon-85df674995": "catalog-lagoon",
              "storefront-sage-85df674995": "storefront-sage"}  # fmt: skip
    assert grader().owner_of(pod, owners) == owner
