// SPDX-License-Identifier: GPL-2.0
/* struct genl_split_ops exists (6.2+); older kernels only have small ops. */
#include <net/genetlink.h>

int probe(const struct genl_split_ops *ops);
int probe(const struct genl_split_ops *ops)
{
	return ops->cmd;
}
