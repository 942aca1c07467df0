// The register and state structures of <linux/kvm.h> (kvm_regs, kvm_sregs, kvm_segment, …) are
// part of this module's API: re-export the C module that declares them so users need only
// `import KVM`.
@_exported import CKVM
