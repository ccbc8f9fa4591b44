/* SPDX-License-Identifier: GPL-2.0 */
/* `pymem-bpf report`: convert a saved JSON profile to another format. */
#ifndef PYMEM_REPORT_H
#define PYMEM_REPORT_H

int report_main(int argc, char **argv);

#endif
