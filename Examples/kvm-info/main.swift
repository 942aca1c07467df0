import KVM
print("kvm-info")
