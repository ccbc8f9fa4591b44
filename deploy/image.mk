# make image: pymem-bpf's container image, built by Debian's podman from a debootstrap base
# (deploy/image.py, deploy/Containerfile); no outside registry.

# This file is read before the Makefile's first rule: leave the default goal alone.
image_saved_goal := $(.DEFAULT_GOAL)

IMAGE	?= localhost/pymem-bpf:latest

.PHONY: image
image: $(OUTPUT)/pymem-bpf
	$(PYTHON) deploy/image.py --binary $(OUTPUT)/pymem-bpf --tag $(IMAGE)

.DEFAULT_GOAL := $(image_saved_goal)
