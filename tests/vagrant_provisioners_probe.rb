# frozen_string_literal: true

# Loads the Vagrantfile with Vagrant itself, as `vagrant up` would, and prints (JSON) one machine's provisioners (their
# name, type and settings after Vagrant finalised them) and synced folders (guest path => host path). Used by tests/test_provisioning_vagrant.py to inspect
# what a VM would run without a hypervisor.
# Usage: ruby vagrant_provisioners_probe.rb MACHINE PROVIDER (in the checkout; VAGRANT_DOTFILE_PATH set by the caller)

require "json"
require "vagrant"

JSON_VALUES = [String, Integer, Float, TrueClass, FalseClass, NilClass, Array, Hash, Symbol].freeze

def settings(config)
  config.instance_variables.to_h { |name| [name.to_s.delete_prefix("@"), config.instance_variable_get(name)] }
        .select { |_name, value| JSON_VALUES.any? { |type| value.is_a?(type) } }
end

machine, provider = ARGV
environment = Vagrant::Environment.new(cwd: Dir.pwd)
config = environment.vagrantfile.machine_config(machine.to_sym, provider.to_sym, environment.boxes, nil, false)[:config]
provisioners = config.vm.provisioners.map do |provisioner|
  { "name" => provisioner.name.to_s, "type" => provisioner.type.to_s, "config" => settings(provisioner.config) }
end
synced_folders = config.vm.synced_folders.values.to_h { |folder| [folder[:guestpath], folder[:hostpath]] }
puts JSON.generate({ "provisioners" => provisioners, "synced_folders" => synced_folders })
