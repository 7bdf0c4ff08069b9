// SPDX-License-Identifier: GPL-2.0
/* Multicast groups that only CAP_NET_ADMIN may join (6.7, stable 6.1.y). */
#include <net/genetlink.h>

const struct genl_multicast_group probe_grp = {
	.name	= "x",
	.flags	= GENL_MCAST_CAP_NET_ADMIN,
};
