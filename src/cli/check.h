/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `pymem-bpf check`: can this kernel run pymem-bpf?  Its features, and
 * what the verifier says of each program, without attaching anything.
 */
#ifndef PYMEM_CHECK_H
#define PYMEM_CHECK_H

int check_main(int argc, char **argv);

#endif
