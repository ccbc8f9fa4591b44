# make vmtest: build/pymem-bpf on Debian's cloud kernels (bullseye 5.10 to sid) in qemu,
# software-emulated; see tests/vm/vmtest.py.  VMTEST_KERNELS=bookworm,sid picks suites.

# This file is read before the Makefile's first rule: leave the default goal alone.
vm_saved_goal := $(.DEFAULT_GOAL)

VM_PKGS := qemu-system-x86 debootstrap cpio

.PHONY: vmtest vmdeps
# Installs only what is missing, so repeated runs cost nothing.
vmdeps:
	@missing=$$(for p in $(VM_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	fi

vmtest: vmdeps $(OUTPUT)/pymem-bpf
	$(PYTHON) tests/vm/vmtest.py $(if $(VMTEST_KERNELS),--kernels $(VMTEST_KERNELS))

.DEFAULT_GOAL := $(vm_saved_goal)
