# frozen_string_literal: true

# Runs vagrant/lab_settings.rb as the Vagrantfile does, on a host described on stdin (JSON), and prints what it
# concluded (JSON). Used by tests/test_provisioning_vagrant.py to try operating systems and CPUs this machine is not.
#
# Request keys, each optional: "os" (linux, macos, windows), "ruby_cpu" (RbConfig's host_cpu), "cpus", "memory_mib",
# "vagrant_version", "env" (the host's environment: PROCESSOR_ARCHITECTURE, PATH, PATHEXT, ...), "outputs"
# (program argv joined by spaces => its output; other programs count as missing), "settings" (the environment the
# settings are read from: CKS_LAB_*, VAGRANT_DOTFILE_PATH, VAGRANT_DEFAULT_PROVIDER), "chosen_provider" (the provider
# Vagrant chose, as the Vagrantfile's provider blocks and trigger pass it in).
# Answer: "os", "cpu", "memory_mib", "ansible_playbook" (found on PATH), and either "arch", "provider" (the named
# one or null) and "extra_vars" (what every playbook run gets) or "error". With "chosen_provider" also "static_addresses", "host_vars" (the control plane's), "box",
# "box_version" and "vm_name" (the control plane's), or "error" when the checks for that provider refuse it.

require "json"
require_relative "../vagrant/lab_settings"

request = JSON.parse($stdin.read)
host = CksLab::Host.new(env: request.fetch("env", {}))
host.define_singleton_method(:os) { request["os"].to_sym } if request.key?("os")
host.define_singleton_method(:ruby_cpu) { request["ruby_cpu"] } if request.key?("ruby_cpu")
host.define_singleton_method(:cpus) { request["cpus"] } if request.key?("cpus")
host.define_singleton_method(:memory_mib) { request["memory_mib"] } if request.key?("memory_mib")
host.define_singleton_method(:vagrant_version) { request["vagrant_version"] } if request.key?("vagrant_version")
if request.key?("outputs")
  outputs = request["outputs"]
  host.define_singleton_method(:capture) do |*argv|
    output = outputs[argv.join(" ")].to_s.strip
    output.empty? ? nil : output
  end
end

answer = { "os" => host.os, "cpu" => host.cpu, "memory_mib" => host.memory_mib,
           "ansible_playbook" => host.command?("ansible-playbook") }
begin
  settings = CksLab::Settings.new(root: File.expand_path("..", __dir__), env: request.fetch("settings", {}), argv: [],
                                  host: host)
  answer["arch"] = settings.arch
  answer["provider"] = settings.provider
  answer["extra_vars"] = settings.ansible_extra_vars
  chosen = request["chosen_provider"]
  if chosen
    settings.check_provider(chosen)
    answer.merge!("static_addresses" => settings.static_addresses?(chosen), "box" => settings.box(chosen),
                  "host_vars" => settings.ansible_host_vars(settings.controlplane, chosen),
                  "box_version" => settings.box_version(chosen), "vm_name" => settings.vm_name(settings.controlplane))
  end
rescue CksLab::SettingsError => e
  answer["error"] = e.message
end
puts JSON.generate(answer)
