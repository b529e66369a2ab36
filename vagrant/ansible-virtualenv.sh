#!/bin/sh
# The Ansible that provisions this VM: the ansible package (with its collections) at the versions of the project's
# constraints file, in its own virtualenv, rather than whatever Ubuntu's PPA holds today; Ubuntu 24.04's Python
# refuses pip installs outside a virtualenv (PEP 668). Runs on every provision: pip changes nothing while the
# installed versions are the pinned ones.
# Usage: ansible-virtualenv.sh VIRTUALENV CONSTRAINTS_FILE
set -eu

venv=$1
constraints=$2

if ! dpkg-query --show --showformat='${Status}' python3-venv 2>/dev/null | grep -q 'install ok installed'; then
  # A fresh VM may still run its first apt jobs: wait for their lock instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-venv
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --constraint "$constraints" ansible
"$venv/bin/ansible-playbook" --version
