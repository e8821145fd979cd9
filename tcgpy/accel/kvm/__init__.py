"""The KVM engine: x86-64 guests on an x86-64 host, natively in a VM."""
