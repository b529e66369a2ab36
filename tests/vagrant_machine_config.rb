# frozen_string_literal: true

# Prints (JSON) the VAGRANT_DEFAULT_PROVIDER the Vagrantfile left and what Vagrant configures for each machine of this
# checkout's Vagrantfile with the provider named in PROBE_PROVIDER, as `vagrant up --provider` would after the
# provider blocks' overrides: box and build, networks, shares (guest path => type and host path), provisioners (with
# their finalised settings), the VM name and libvirt's memory backing. Run with Vagrant's Ruby in the checkout (the
# settings come from CKS_LAB_* as usual). The provider need not be usable here: its plugin's config is used when
# installed, Vagrant's placeholder otherwise (the overrides apply either way).

require "json"
require "vagrant"

env = Vagrant::Environment.new(cwd: Dir.pwd)
provider = ENV.fetch("PROBE_PROVIDER").to_sym

JSON_VALUES = [String, Integer, Float, TrueClass, FalseClass, NilClass, Array, Hash, Symbol].freeze

# A provisioner's settings after Vagrant finalised them (those JSON can hold).
def settings(config)
  config.instance_variables.to_h { |name| [name.to_s.delete_prefix("@"), config.instance_variable_get(name)] }
        .select { |_name, value| JSON_VALUES.any? { |type| value.is_a?(type) } }
end

def provisioner_summary(provisioner)
  { "name" => provisioner.name.to_s, "type" => provisioner.type.to_s, "run" => provisioner.run.to_s,
    "config" => settings(provisioner.config) }
end

def provider_summary(config, provider)
  settings = config.vm.get_provider_config(provider)
  { "name" => (settings.name if settings.respond_to?(:name)),
    "memory_backing" => (settings.memory_backing if settings.respond_to?(:memory_backing)) }
end

machines = env.vagrantfile.machine_names.to_h do |name|
  config = env.vagrantfile.machine_config(name, provider, env.boxes, nil, false)[:config]
  [name.to_s, { "box" => config.vm.box, "box_version" => config.vm.box_version,
                "private_networks" => config.vm.networks.select { |type, _| type == :private_network }
                                            .map { |_, options| options[:ip] },
                "synced_folders" => config.vm.synced_folders.values.to_h do |options|
                  [options[:guestpath], { "type" => options[:type].to_s, "hostpath" => options[:hostpath] }]
                end,
                "provisioners" => config.vm.provisioners.map { |p| provisioner_summary(p) },
                "provider" => provider_summary(config, provider) }]
end
puts JSON.generate("default_provider" => ENV["VAGRANT_DEFAULT_PROVIDER"], "machines" => machines)
