# frozen_string_literal: true

# The cluster settings for the Vagrantfile: vagrant/settings.yml, CKS_LAB_* environment overrides, the pinned
# versions from versions.yml and what this host offers. Every problem raises SettingsError while the Vagrantfile is
# loaded (or, for a provider Vagrant chose itself, in the trigger before `up`), so Vagrant stops before it creates any
# VM, and the message says what to change.

require "digest"
require "etc"
require "ipaddr"
require "rbconfig"
require "yaml"

module CksLab
  PROVIDERS = %w[virtualbox libvirt vmware_desktop parallels].freeze
  PROVISIONERS = %w[ansible_local ansible].freeze
  ARCHITECTURES = { "x86_64" => "amd64", "amd64" => "amd64", "x64" => "amd64",
                    "aarch64" => "arm64", "arm64" => "arm64" }.freeze
  # static: each VM gets <network_prefix>.<n> on a private network. dhcp: no private network; each VM keeps the
  # address the provider's own network hands out, which Ansible reads (node_ip's default) and the nodes publish.
  NODE_ADDRESSES = %w[static dhcp].freeze
  # Providers whose default network gives every VM its own address that the host and the other VMs reach (VMware's
  # NAT network, Parallels' Shared network); VirtualBox's NAT gives every VM the same 10.0.2.15.
  DHCP_PROVIDERS = %w[vmware_desktop parallels].freeze
  ONE_WAY_SYNCED_FOLDERS = %w[rsync].freeze
  MAX_WORKERS = 9
  MIN_CPUS = { "controlplane" => 2, "worker" => 1 }.freeze
  MIN_MEMORY_MIB = { "controlplane" => 2048, "worker" => 2048 }.freeze
  MAX_MEMORY_MIB = 65_536
  HOST_MEMORY_RESERVE_MIB = 2048
  MIN_KUBERNETES_MINOR = 31 # kubeadm v1beta4 configuration and KubeletConfiguration.failCgroupV1
  VIRTUALBOX_ALLOWED_RANGE = IPAddr.new("192.168.56.0/21")
  ARM64_MIN_VAGRANT = "2.4.0" # box_architecture, needed to pick the arm64 variant of a box
  # The first Vagrant that drives each VirtualBox minor (Vagrant's CHANGELOG: 7.0 in 2.3.2, 7.1 in 2.4.2, 7.2 in 2.4.9).
  VIRTUALBOX_MIN_VAGRANT = { "7.0" => "2.3.2", "7.1" => "2.4.2", "7.2" => "2.4.9" }.freeze

  BaseError = defined?(Vagrant::Errors::VagrantError) ? Vagrant::Errors::VagrantError : StandardError

  # A setting or the host does not fit the lab; the message says what to change.
  class SettingsError < BaseError
    def initialize(message)
      @lab_message = "cks-lab: #{message}"
      super(@lab_message)
    end

    def error_message
      @lab_message
    end
  end

  Node = Struct.new(:name, :ip, :cpus, :memory, :group, keyword_init: true)

  # The validated settings: one reader per decision the Vagrantfile makes. Decisions that depend on the provider take
  # it as an argument: when the student names none, Vagrant picks it (its own order and usable check) and the
  # Vagrantfile passes Vagrant's choice in from the provider blocks and the trigger before `up`.
  class Settings
    attr_reader :provider, :provisioner, :arch, :kubernetes_version, :kubernetes_version_overridden, :nodes

    PROXY_VARIABLES = %w[http_proxy https_proxy no_proxy].freeze

    def initialize(root:, env: ENV, argv: ARGV, host: Host.new)
      @root = root
      @env = env
      @argv = argv
      @host = host
      @raw = YAML.safe_load(File.read(File.join(root, "vagrant", "settings.yml")))
      check_host_platform
      @provider = resolve_provider
      @provisioner = choice("provisioner", PROVISIONERS)
      @arch = resolve_arch
      resolve_kubernetes_version
      @nodes = build_nodes
      @node_addresses = choice("node_addresses", ["", *NODE_ADDRESSES])
      check_synced_folder
      check_network
      check_host_resources
      check_vagrant_version
      check_provisioner
      check_provider(@provider) if @provider
    end

    # The provider-dependent checks, for a provider named by the student or the one Vagrant chose.
    def check_provider(provider)
      check_node_addresses(provider)
      check_virtualbox_network if provider == "virtualbox" && static_addresses?(provider)
      check_virtualbox_version if provider == "virtualbox"
    end

    def box(provider)
      named = value("box").to_s
      named.empty? ? @raw.fetch("boxes").fetch(provider) : named
    end

    # The tested build of the provider's default box for this architecture; nil (any version) for a box named in
    # the settings unless box_version names one too.
    def box_version(provider)
      named = value("box_version").to_s
      return named unless named.empty?

      value("box").to_s.empty? ? @raw.fetch("box_versions").fetch(provider).fetch(@arch) : nil
    end

    def static_addresses?(provider)
      return @node_addresses == "static" unless @node_addresses.empty?

      !(provider == "vmware_desktop" && @host.os == :macos)
    end

    # VirtualBox and Parallels refuse two VMs of one name: the suffix tells this checkout's VMs from another's.
    def vm_name(node)
      "cks-lab-#{node.name}-#{Digest::SHA256.hexdigest(File.expand_path(@root))[0, 8]}"
    end

    # How the checkout is shared as /vagrant: the setting, else the provider's default (nfs for libvirt).
    def synced_folder_options(provider)
      type = value("synced_folder_type").to_s
      type = "nfs" if type.empty? && provider == "libvirt"
      return {} if type.empty?
      return { type: "nfs", nfs_version: 4, nfs_udp: false } if type == "nfs"

      { type: type }
    end

    def controlplane
      @nodes.first
    end

    def ansible_groups
      { "control_plane" => [controlplane.name], "workers" => @nodes.drop(1).map(&:name) }
    end

    # With DHCP addresses node_ip is left to its default in group_vars (the VM's default IPv4 address).
    def ansible_host_vars(node, provider)
      static_addresses?(provider) ? { "node_name" => node.name, "node_ip" => node.ip } : { "node_name" => node.name }
    end

    # Only an override travels as an extra var; otherwise Ansible reads versions.yml itself.
    # What every playbook run gets on top of the inventory: a Kubernetes version asked for, and the host's proxy.
    def ansible_extra_vars
      version = kubernetes_version_overridden ? { "kubernetes_version" => kubernetes_version } : {}
      version.merge(proxy_variables)
    end

    # The host's proxy as playbooks/group_vars/all.yml names it (http_proxy, https_proxy, no_proxy), upper or lower
    # case as the host spells it; pip and apt read these names from the environment too.
    def proxy_variables
      PROXY_VARIABLES.to_h { |name| [name, @env[name.upcase] || @env[name]] }.reject { |_, v| v.nil? || v.empty? }
    end

    private

    def value(key)
      from_env = @env["CKS_LAB_#{key.upcase}"]
      from_env.nil? || from_env.empty? ? @raw[key] : from_env
    end

    def origin(key)
      "#{key} in vagrant/settings.yml or CKS_LAB_#{key.upcase}"
    end

    def choice(key, allowed)
      chosen = value(key).to_s
      return chosen if allowed.include?(chosen)

      raise SettingsError, "#{key} '#{chosen}' is not supported; use one of #{allowed.join(', ')} (#{origin(key)})"
    end

    def integer(key, range, why = nil)
      raw = value(key)
      number = Integer(raw.to_s, 10)
      return number if range.cover?(number)

      raise SettingsError, "#{key} #{number} is out of range; use #{range.min} to #{range.max}#{why} (#{origin(key)})"
    rescue ArgumentError
      raise SettingsError, "#{key} '#{raw}' is not a whole number (#{origin(key)})"
    end

    def check_synced_folder
      type = value("synced_folder_type").to_s
      return unless ONE_WAY_SYNCED_FOLDERS.include?(type)

      raise SettingsError, "synced_folder_type '#{type}' only copies to the VMs, but the control plane hands the " \
                           "join command and admin.conf back through /vagrant; use nfs, virtiofs, 9p, smb or the " \
                           "provider's default (#{origin('synced_folder_type')})"
    end

    # The provider the student named, or nil: then Vagrant chooses (a machine keeps the provider it was created
    # with; a new one gets the first usable provider of the Vagrantfile's provider blocks).
    def resolve_provider
      named = provider_from_argv || @env["VAGRANT_DEFAULT_PROVIDER"].to_s
      named = value("provider").to_s if named.empty?
      return nil if named.empty?
      return named if PROVIDERS.include?(named)

      raise SettingsError, "provider '#{named}' is not supported; use one of #{PROVIDERS.join(', ')} " \
                           "(vagrant up --provider, VAGRANT_DEFAULT_PROVIDER, #{origin('provider')})"
    end

    def provider_from_argv
      @argv.each_with_index do |arg, index|
        return arg.split("=", 2).last if arg.start_with?("--provider=")
        return @argv[index + 1] if arg == "--provider"
      end
      nil
    end

    # The README's prerequisites: no hypervisor with a Vagrant provider runs the lab's VMs on Windows on Arm.
    def check_host_platform
      return unless @host.os == :windows && ARCHITECTURES[@host.cpu.to_s.downcase] == "arm64"

      raise SettingsError, "Windows on Arm is not supported: no hypervisor with a Vagrant provider runs the lab's " \
                           "Ubuntu VMs there (see the prerequisites in README.md); use an x86_64 Windows PC, a Mac " \
                           "or a Linux machine, or provision cloud VMs with playbooks/site.yml (docs/provisioning.md)"
    end

    def resolve_arch
      named = value("arch").to_s
      cpu = named.empty? ? @host.cpu : named
      arch = ARCHITECTURES[cpu.downcase]
      return arch if arch

      raise SettingsError, "CPU architecture '#{cpu}' is not supported; the lab's Ubuntu 24.04 boxes exist for " \
                           "amd64 (x86_64) and arm64 (aarch64) hosts only (#{origin('arch')})"
    end

    def resolve_kubernetes_version
      pinned = YAML.safe_load(File.read(File.join(@root, "versions.yml"))).fetch("kubernetes_version")
      named = value("kubernetes_version").to_s
      @kubernetes_version = named.empty? ? pinned : named
      @kubernetes_version_overridden = !named.empty? && named != pinned
      match = /\A1\.(\d+)\.\d+\z/.match(@kubernetes_version)
      return if match && match[1].to_i >= MIN_KUBERNETES_MINOR

      raise SettingsError, "kubernetes_version '#{@kubernetes_version}' is not a release this lab can install; " \
                           "use 1.#{MIN_KUBERNETES_MINOR}.0 or newer as MAJOR.MINOR.PATCH, or leave it empty for " \
                           "#{pinned} from versions.yml (#{origin('kubernetes_version')})"
    end

    def build_nodes
      workers = integer("workers", 1..MAX_WORKERS)
      prefix = network_prefix
      first = integer("first_ip", 2..(254 - workers))
      nodes = [node("controlplane", "controlplane", "#{prefix}.#{first}")]
      nodes + (1..workers).map { |i| node(format("node%02d", i), "worker", "#{prefix}.#{first + i}") }
    end

    def node(name, group, ip)
      min_cpus = MIN_CPUS.fetch(group)
      raise SettingsError, "this host has #{@host.cpus} CPU(s); the #{group} needs #{min_cpus}" if @host.cpus < min_cpus

      Node.new(name: name, ip: ip, group: group,
               cpus: integer("#{group}_cpus", min_cpus..@host.cpus, ", as this host has #{@host.cpus} CPUs"),
               memory: integer("#{group}_memory", MIN_MEMORY_MIB.fetch(group)..MAX_MEMORY_MIB))
    end

    def network_prefix
      prefix = value("network_prefix").to_s
      octets = prefix.split(".")
      valid = octets.size == 3 && octets.all? { |o| o.match?(/\A\d{1,3}\z/) && o.to_i <= 255 }
      return prefix if valid && IPAddr.new("#{prefix}.0").private?

      raise SettingsError, "network_prefix '#{prefix}' must be the first three octets of a private IPv4 network, " \
                           "e.g. 192.168.56 (#{origin('network_prefix')})"
    end

    def check_network
      cluster_networks.each do |name, cidr|
        clash = @nodes.find { |n| IPAddr.new(cidr).include?(n.ip) }
        next unless clash

        raise SettingsError, "#{clash.name}'s address #{clash.ip} lies inside the cluster's #{name} #{cidr}; " \
                             "choose another network_prefix (#{origin('network_prefix')})"
      end
    end

    def check_node_addresses(provider)
      if !static_addresses?(provider) && !DHCP_PROVIDERS.include?(provider)
        raise SettingsError, "node_addresses 'dhcp' needs a provider whose network gives every VM its own address " \
                             "(#{DHCP_PROVIDERS.join(', ')}), not #{provider}; use static " \
                             "(#{origin('node_addresses')})"
      end
      return unless static_addresses?(provider) && provider == "vmware_desktop" && @host.os == :macos

      raise SettingsError, "VMware Fusion on macOS cannot create private networks with custom addresses (Vagrant's " \
                           "VMware known issues); use node_addresses dhcp or leave it empty " \
                           "(#{origin('node_addresses')})"
    end

    def check_virtualbox_network
      return if @host.virtualbox_networks_configured?

      outside = @nodes.find { |n| !VIRTUALBOX_ALLOWED_RANGE.include?(n.ip) }
      return unless outside

      raise SettingsError, "VirtualBox only allows host-only addresses in 192.168.56.0/21 unless " \
                           "/etc/vbox/networks.conf lists more, and #{outside.name} would get #{outside.ip}; use a " \
                           "network_prefix between 192.168.56 and 192.168.63 or add '* #{outside.ip.sub(/\d+\z/, '0')}/24' to " \
                           "/etc/vbox/networks.conf (#{origin('network_prefix')})"
    end

    # Pod and service networks, read from the playbooks' shared variables so that no VM address can collide.
    def cluster_networks
      shared = YAML.safe_load(File.read(File.join(@root, "playbooks", "group_vars", "all.yml")))
      { "pod network" => shared.fetch("pod_subnet"), "service network" => shared.fetch("service_subnet") }
    end

    def check_host_resources
      total = @host.memory_mib
      return if total.nil?

      wanted = @nodes.sum(&:memory)
      return if wanted + HOST_MEMORY_RESERVE_MIB <= total

      raise SettingsError, "the VMs need #{wanted} MiB of memory and this host has #{total} MiB " \
                           "(#{HOST_MEMORY_RESERVE_MIB} MiB are kept for the host); lower controlplane_memory, " \
                           "worker_memory or workers in vagrant/settings.yml (or CKS_LAB_CONTROLPLANE_MEMORY, " \
                           "CKS_LAB_WORKER_MEMORY, CKS_LAB_WORKERS)"
    end

    def check_vagrant_version
      return unless @arch == "arm64" && Gem::Version.new(@host.vagrant_version) < Gem::Version.new(ARM64_MIN_VAGRANT)

      raise SettingsError, "arm64 boxes need Vagrant #{ARM64_MIN_VAGRANT} or newer (this is " \
                           "#{@host.vagrant_version}); install Vagrant from https://developer.hashicorp.com/vagrant/install"
    end

    def check_virtualbox_version
      # The version is the last line: a missing kernel module makes VBoxManage print warnings first.
      virtualbox = @host.virtualbox_version.to_s[/^\d+\.\d+(\.\d+)?/]
      minor = virtualbox && virtualbox[/\A\d+\.\d+/]
      needed = VIRTUALBOX_MIN_VAGRANT[minor]
      return if needed.nil? || Gem::Version.new(@host.vagrant_version) >= Gem::Version.new(needed)

      raise SettingsError, "VirtualBox #{virtualbox} needs Vagrant #{needed} or newer (this is " \
                           "#{@host.vagrant_version}); install Vagrant from https://developer.hashicorp.com/vagrant/install"
    end

    def check_provisioner
      return unless @provisioner == "ansible" && !@host.command?("ansible-playbook")

      raise SettingsError, "provisioner 'ansible' runs the host's ansible-playbook, which is not on PATH; install " \
                           "Ansible on the host or use provisioner ansible_local (#{origin('provisioner')})"
    end
  end

  # What the Vagrantfile needs to know about the machine it runs on.
  class Host
    POWERSHELL_TOTAL_MEMORY = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
                               "(Get-CimInstance Win32_ComputerSystem).TotalPhysicalMemory"].freeze
    WMIC_TOTAL_MEMORY = ["wmic.exe", "ComputerSystem", "get", "TotalPhysicalMemory", "/value"].freeze

    def initialize(env: ENV)
      @env = env
    end

    def os
      case RbConfig::CONFIG["host_os"]
      when /linux/ then :linux
      when /darwin/ then :macos
      when /mswin|mingw|cygwin/ then :windows
      else :other
      end
    end

    def cpu
      if os == :windows
        # PROCESSOR_ARCHITEW6432 names the machine's CPU when Vagrant runs emulated or as a 32-bit program
        # (ARM64 for an x64 Vagrant on Windows on Arm).
        windows = [@env["PROCESSOR_ARCHITEW6432"], @env["PROCESSOR_ARCHITECTURE"]].find { |v| v && !v.empty? }
        return windows if windows
      end
      # A Vagrant built for x86_64 runs under Rosetta on Apple Silicon and would report x86_64.
      return "arm64" if os == :macos && capture("sysctl", "-n", "hw.optional.arm64") == "1"

      ruby_cpu
    end

    def cpus
      Etc.nprocessors
    end

    # Total memory in MiB, or nil when this host does not tell (the memory check is then skipped).
    def memory_mib
      case os
      when :linux then mib(File.read("/proc/meminfo")[/^MemTotal:\s+(\d+) kB/, 1], 1024)
      when :macos then mib(capture("sysctl", "-n", "hw.memsize"))
      when :windows
        mib(capture(*POWERSHELL_TOTAL_MEMORY) || capture(*WMIC_TOTAL_MEMORY).to_s[/TotalPhysicalMemory=(\d+)/, 1])
      end
    rescue StandardError
      nil
    end

    def command?(name)
      exts = os == :windows ? @env.fetch("PATHEXT", ".EXE").split(";") : [""]
      @env.fetch("PATH", "").split(File::PATH_SEPARATOR).any? do |dir|
        exts.any? { |ext| File.file?(File.join(dir, name + ext)) && File.executable?(File.join(dir, name + ext)) }
      end
    end

    def virtualbox_networks_configured?
      os != :windows && File.exist?("/etc/vbox/networks.conf")
    end

    def vagrant_version
      defined?(Vagrant::VERSION) ? Vagrant::VERSION : "0"
    end

    # VBoxManage's version (e.g. 7.1.4r165100), nil when VirtualBox is missing. On Windows it is not on the PATH:
    # its installer records its directory in VBOX_MSI_INSTALL_PATH, where Vagrant looks too.
    def virtualbox_version
      install_dir = @env["VBOX_MSI_INSTALL_PATH"].to_s.chomp("\\")
      command = os == :windows && !install_dir.empty? ? File.join(install_dir, "VBoxManage.exe") : "VBoxManage"
      capture(command, "--version")
    end

    private

    def ruby_cpu
      RbConfig::CONFIG["host_cpu"]
    end

    # A program's output without surrounding blanks; nil when it is missing, fails or prints nothing.
    def capture(*argv)
      output = IO.popen(argv, err: File::NULL, &:read).to_s.strip
      $?.success? && !output.empty? ? output : nil
    rescue SystemCallError
      nil
    end

    def mib(amount, unit_bytes = 1)
      amount&.match?(/\A\d+\z/) ? amount.to_i * unit_bytes / 1024 / 1024 : nil
    end
  end
end
