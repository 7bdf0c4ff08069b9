/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's only view of its environment: fixed-width types, bool,
 * NULL and a static assert. It compiles unchanged in the kernel
 * (__KERNEL__) and in userspace, where only freestanding headers are used.
 */
#ifndef SMTPGUARD_SHIM_H
#define SMTPGUARD_SHIM_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/build_bug.h>
#define SG_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
#define SG_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

#define SG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* SMTPGUARD_SHIM_H */
