# frozen_string_literal: true

# Runs vagrant/lab_settings.rb as the Vagrantfile does, on a host described on stdin (JSON), and prints what it
# concluded (JSON). Used by tests/test_provisioning_vagrant.py to try operating systems and CPUs this machine is not.
#
# Request keys, each optional: "os" (linux, macos, windows), "ruby_cpu" (RbConfig's host_cpu), "cpus", "memory_mib",
# "vagrant_version", "env" (the host's environment: PROCESSOR_ARCHITECTURE, PATH, PATHEXT, ...), "outputs"
# (program argv joined by spaces => its output; other programs count as missing), "settings" (the environment the
# settings are read from: CKS_LAB_*, VAGRANT_DOTFILE_PATH).
# Answer: "os", "cpu", "memory_mib", "ansible_playbook" (found on PATH), and either "arch" or "error".

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
rescue CksLab::SettingsError => e
  answer["error"] = e.message
end
puts JSON.generate(answer)
