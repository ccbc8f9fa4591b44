/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PYMEM_AGENT_MAIN_H
#define PYMEM_AGENT_MAIN_H

/* pymem-bpf agent [OPTIONS]: argv[0] is "pymem-bpf agent" */
int agent_main(int argc, char **argv);

#endif
