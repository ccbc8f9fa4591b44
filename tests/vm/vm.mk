# make vmtest: build/pymem-bpf on Debian's cloud kernels (bullseye 5.10 to sid) in qemu,
# software-emulated; see tests/vm/vmtest.py.  VMTEST_KERNELS=bookworm,sid picks suites.

# This file is read before the Makefile's first rule: leave the default goal alone.
vm_saved_goal := $(.DEFAULT_GOAL)

.PHONY: vmtest
# qemu-system-x86, debootstrap and cpio come with make deps (DEB_PKGS)
vmtest: deps $(OUTPUT)/pymem-bpf
	$(PYTHON) tests/vm/vmtest.py $(if $(VMTEST_KERNELS),--kernels $(VMTEST_KERNELS))

.DEFAULT_GOAL := $(vm_saved_goal)
