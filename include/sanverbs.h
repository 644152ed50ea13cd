/* SPDX-License-Identifier: MIT */
/**
 * @file sanverbs.h
 * @brief sanverbs: the Windows SAN service provider memory contract on Linux
 * RDMA verbs.
 *
 * Conventions that hold for every function in this header:
 *  - every symbol starts with `sanverbs_` (types) or `SANVERBS_` (macros);
 *  - handles are opaque and come in create/destroy (or open/close) pairs;
 *  - functions returning `int` return 0 on success or a negative errno value
 *    (-EINVAL for bad arguments, -ENOMEM for resource exhaustion, ...), and
 *    never crash on NULL, zero-length or wrapping address ranges;
 *  - a handle that was already freed, deregistered or closed (contexts,
 *    registrations, secured ranges, MDLs, pools, low-memory buffers) is
 *    refused with -EINVAL: their memory is never returned to the allocator,
 *    only reused for a later handle of the same type (after at least 16
 *    others were freed), so a stale handle is at worst a live handle again,
 *    as a closed file descriptor number is;
 *  - a context and every handle made through it, and MDLs and pools,
 *    belong to the process that made them: in a child of fork() each call
 *    on them returns -ECHILD (accessors return 0 or NULL) and changes
 *    nothing the parent sees;
 *  - the header is self-contained and compiles as ISO C11 with -pedantic and
 *    as C++.
 */
#ifndef SANVERBS_H
#define SANVERBS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of the library API. */
#define SANVERBS_VERSION_MAJOR 0
/** Minor version of the library API. */
#define SANVERBS_VERSION_MINOR 2

/* Forward declarations: callers that want raw verbs include
 * <infiniband/verbs.h> themselves; this header must not drag it in. */
struct ibv_context;
struct ibv_pd;
struct sockaddr;

/* ------------------------------------------------------------------------ */
/* Core: device context and memory registration                              */
/* ------------------------------------------------------------------------ */

/** An open RDMA device with its protection domain and registration cache. */
struct sanverbs_ctx;
/** One registration of a buffer (a reference on a cached entry). */
struct sanverbs_mr;

/**
 * Access rights of a registration. REMOTE_WRITE implies LOCAL_WRITE (verbs
 * requires it), so the library adds LOCAL_WRITE when REMOTE_WRITE is asked.
 */
enum sanverbs_access {
	SANVERBS_ACCESS_LOCAL_WRITE = 1u << 0,  /**< the local HCA may write */
	SANVERBS_ACCESS_REMOTE_WRITE = 1u << 1, /**< the peer may RDMA-write */
	SANVERBS_ACCESS_REMOTE_READ = 1u << 2,  /**< the peer may RDMA-read */
};

/** Every access bit the library knows; any other bit is -EINVAL. */
#define SANVERBS_ACCESS_ALL                                                  \
	(SANVERBS_ACCESS_LOCAL_WRITE | SANVERBS_ACCESS_REMOTE_WRITE |        \
	 SANVERBS_ACCESS_REMOTE_READ)

/** Which invalidation monitor a context uses for its registration cache. */
enum sanverbs_monitor {
	SANVERBS_MONITOR_AUTO = 0, /**< kmod if loaded, else userfaultfd, else none */
	SANVERBS_MONITOR_UFFD = 1, /**< userfaultfd only (fail if unavailable) */
	SANVERBS_MONITOR_KMOD = 2, /**< /dev/sanverbs notifier only */
	SANVERBS_MONITOR_NONE = 3, /**< no monitor: caching is switched off */
};

/**
 * Options for sanverbs_ctx_open(). Fill with sanverbs_ctx_attr_init(), which
 * applies the documented defaults and the `SANVERBS_*` environment variables,
 * then override fields as needed.
 */
struct sanverbs_ctx_attr {
	/** Device name (e.g. "rxe0"); NULL picks the first device with an
	 *  active port. Default: `$SANVERBS_DEVICE` or NULL. */
	const char *device;
	/** Port number; 0 picks the first active port. */
	uint8_t port;
	/** Invalidation monitor. Default: `$SANVERBS_MONITOR` or AUTO. */
	enum sanverbs_monitor monitor;
	/** Most cached registrations kept (0 = caching off).
	 *  Default: `$SANVERBS_CACHE_MAX_ENTRIES` or 16384. */
	size_t cache_max_entries;
	/** Most bytes kept pinned by the cache (0 = no byte limit).
	 *  Default: `$SANVERBS_CACHE_MAX_BYTES` or 1 GiB. */
	size_t cache_max_bytes;
	/** Reserved, must be 0. */
	uint64_t flags;
};

/**
 * Fill @p attr with defaults and the `SANVERBS_*` environment overrides.
 *
 * @param attr attributes to initialise
 * @return 0, or -EINVAL if @p attr is NULL or an environment variable does
 *         not parse (the variable is named on stderr)
 */
int sanverbs_ctx_attr_init(struct sanverbs_ctx_attr *attr);

/**
 * Open an RDMA device, allocate a protection domain and set up the
 * registration cache and its invalidation monitor.
 *
 * @param attr options, or NULL for sanverbs_ctx_attr_init() defaults
 * @param out  receives the new context
 * @return 0; -EINVAL on bad arguments; -ENODEV if no (matching) device or no
 *         active port exists; other negative errno from the verbs library
 */
int sanverbs_ctx_open(const struct sanverbs_ctx_attr *attr,
		      struct sanverbs_ctx **out);

/**
 * Attach a context to a protection domain the caller already has (and,
 * through it, to the PD's device), for applications that create their own
 * ibv_context, PD, CQs and QPs and want the registration cache for their
 * buffers. Registrations made through the returned context are MRs of @p pd:
 * their keys work on every QP of @p pd.
 *
 * Ownership: @p pd and its device stay the caller's. sanverbs never
 * deallocates @p pd nor closes its device; sanverbs_ctx_close() releases
 * only what the context made (its cache, monitor and internal QP). The
 * caller keeps @p pd and its device open until sanverbs_ctx_close()
 * returns. Several contexts may be attached to the same PD or device; each
 * has its own cache.
 *
 * @param pd   the caller's protection domain
 * @param attr options, or NULL for sanverbs_ctx_attr_init() defaults (with
 *             `$SANVERBS_DEVICE` ignored); attr->device, if set, must name
 *             the PD's device; attr->port 0 picks its first active port
 * @param out  receives the new context
 * @return 0; -EINVAL on bad arguments or a device name that is not the
 *         PD's; -ENODEV if the device has no (such) active port; other
 *         negative errno as sanverbs_ctx_open()
 */
int sanverbs_ctx_attach(struct ibv_pd *pd, const struct sanverbs_ctx_attr *attr,
			struct sanverbs_ctx **out);

/**
 * Close a context: release every registration still cached, stop the
 * monitor, free the protection domain and close the device (only if the
 * context opened them: not after sanverbs_ctx_attach()). Refused, with
 * nothing changed, while the caller still holds a registration, a secured
 * range, a locked MDL pinned through @p ctx or a pool created with it.
 *
 * @param ctx the context
 * @return 0; -EINVAL (NULL or already closed); -EBUSY (handles held);
 *         -ECHILD (called in a child of the process that opened @p ctx)
 */
int sanverbs_ctx_close(struct sanverbs_ctx *ctx);

/** The verbs device context (owned by @p ctx unless attached with
 *  sanverbs_ctx_attach()), or NULL if @p ctx is NULL. */
struct ibv_context *sanverbs_ctx_verbs(const struct sanverbs_ctx *ctx);
/** The protection domain (owned by @p ctx unless attached with
 *  sanverbs_ctx_attach()), or NULL if @p ctx is NULL. */
struct ibv_pd *sanverbs_ctx_pd(const struct sanverbs_ctx *ctx);
/** The device name, e.g. "rxe0", or NULL if @p ctx is NULL. */
const char *sanverbs_ctx_device_name(const struct sanverbs_ctx *ctx);
/** The port the context uses, or 0 if @p ctx is NULL. */
uint8_t sanverbs_ctx_port(const struct sanverbs_ctx *ctx);

/**
 * Register [@p addr, @p addr + @p len) with at least @p access rights.
 *
 * The mapping of the memory must stay valid while the registration is used;
 * the cache notices when it changes (see the cache section).
 *
 * @param ctx    context
 * @param addr   start of the buffer
 * @param len    length in bytes, > 0, and @p addr + @p len must not wrap
 * @param access OR of enum sanverbs_access bits
 * @param out    receives the registration handle
 * @return 0; -EINVAL on bad arguments; -EFAULT if the range is not mapped
 *         with the needed permissions; -ENOMEM when pinning fails even after
 *         the cache evicted what it could; -ETIMEDOUT or -EIO when the
 *         memory window of a remote registration could not be bound
 */
int sanverbs_mr_reg(struct sanverbs_ctx *ctx, void *addr, size_t len,
		    unsigned int access, struct sanverbs_mr **out);

/**
 * Drop a registration. Remote access through its rkey ends here (its memory
 * window is unbound and the unbind waited for); the pages may stay pinned
 * in the cache for a later sanverbs_mr_reg() of the same range.
 *
 * @param mr the registration
 * @return 0; -EINVAL (NULL, or already deregistered); -ECHILD (registered
 *         by the parent of this process); another negative errno if a
 *         remote registration's window could not be revoked (the handle is
 *         then kept)
 */
int sanverbs_mr_dereg(struct sanverbs_mr *mr);

/** Local key for work requests, or 0 if @p mr is NULL. */
uint32_t sanverbs_mr_lkey(const struct sanverbs_mr *mr);
/** Remote key to give a peer (valid only with a REMOTE_* access), or 0. */
uint32_t sanverbs_mr_rkey(const struct sanverbs_mr *mr);
/** Start address the caller registered, or NULL if @p mr is NULL. */
void *sanverbs_mr_addr(const struct sanverbs_mr *mr);
/** Length the caller registered, or 0 if @p mr is NULL. */
size_t sanverbs_mr_length(const struct sanverbs_mr *mr);
/** Access the registration grants (may exceed what was asked), or 0. */
unsigned int sanverbs_mr_access(const struct sanverbs_mr *mr);

/**
 * Return a static English description of a sanverbs error code (0 or a
 * negative errno, -1 .. -4095); never NULL. Any other int, INT_MIN
 * included, is described as not being a sanverbs error code.
 */
const char *sanverbs_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Registration cache, invalidation and secure/unsecure (cache.c & co)       */
/* ------------------------------------------------------------------------ */

/** The cache's monitor opened userfaultfd with UFFD_USER_MODE_ONLY. */
#define SANVERBS_CACHE_F_UFFD_USER_MODE (1u << 0)
/** Remote-access registrations are memory windows bound over cached
 *  local entries (see sanverbs_mr_reg()); clear when the device has no
 *  windows, SANVERBS_CACHE_MW=0, caching is off, or the internal bind QP
 *  could not be built (then decided at the first remote registration). */
#define SANVERBS_CACHE_F_REMOTE_MW (1u << 1)

/** Counters and state of a context's registration cache. */
struct sanverbs_cache_stats {
	uint64_t hits;          /**< sanverbs_mr_reg() served from the cache */
	uint64_t misses;        /**< sanverbs_mr_reg() that called ibv_reg_mr */
	uint64_t evictions;     /**< entries dropped for limits or ENOMEM */
	uint64_t invalidations; /**< entries dropped because memory changed
				     (monitor or sanverbs_cache_invalidate) */
	uint64_t uncached;      /**< registrations not kept in the cache
				     (unwatchable range, over a limit, remote
				     access without memory windows, changed
				     while registering, first sight under
				     SANVERBS_CACHE_ADMIT=second) */
	uint64_t entries;       /**< registrations now cached */
	uint64_t bytes_pinned;  /**< bytes those entries pin */
	/** Monitor in use: UFFD, KMOD or NONE (NONE = caching off). */
	enum sanverbs_monitor monitor;
	uint32_t flags;         /**< SANVERBS_CACHE_F_* */
};

/**
 * Read the cache counters of @p ctx.
 *
 * @param ctx   context
 * @param stats receives the counters (a consistent snapshot)
 * @return 0 or -EINVAL
 */
int sanverbs_cache_stats(struct sanverbs_ctx *ctx,
			 struct sanverbs_cache_stats *stats);

/**
 * Called once for each cached registration or secured range whose mapping
 * changed (unmapped, zapped, moved, replaced), with the range that was
 * registered or secured. Runs on a library thread, outside every library
 * lock: it may call free(), munmap() and sanverbs_* functions.
 */
typedef void (*sanverbs_cache_cb)(void *arg, void *addr, size_t len);

/**
 * Install (or with @p cb NULL remove) the mapping-change callback, the
 * analogue of WSPMemoryRegistrationCacheCallback in the other direction.
 *
 * @return 0, or -EINVAL if @p ctx is NULL
 */
int sanverbs_cache_set_callback(struct sanverbs_ctx *ctx, sanverbs_cache_cb cb,
				void *arg);

/**
 * Drop every cached registration overlapping [@p addr, @p addr + @p len)
 * (WSPMemoryRegistrationCacheCallback). Registrations still held stay usable
 * until sanverbs_mr_dereg(); later sanverbs_mr_reg() calls miss. The
 * callback is not called for this explicit request.
 *
 * @return 0; -EINVAL on bad arguments; -ENOENT if nothing was cached there
 */
int sanverbs_cache_invalidate(struct sanverbs_ctx *ctx, void *addr,
			      size_t len);

/**
 * Drop every cached registration of @p ctx (held ones stay usable until
 * sanverbs_mr_dereg()).
 *
 * @return 0 or -EINVAL
 */
int sanverbs_cache_flush(struct sanverbs_ctx *ctx);

/** A range watched by sanverbs_secure_memory(). */
struct sanverbs_secure;

/**
 * Watch [@p addr, @p addr + @p len) for mapping changes without registering
 * it (MmSecureVirtualMemory), for callers that keep their own cache: the
 * callback fires once when the range is unmapped, zapped or moved.
 *
 * @param ctx  context whose monitor watches the range
 * @param addr start of the range
 * @param len  length, > 0, not wrapping
 * @param out  receives the handle for sanverbs_unsecure_memory()
 * @return 0; -EINVAL on bad arguments; -EOPNOTSUPP if the context has no
 *         monitor or the memory cannot be watched (file-backed, SysV shm);
 *         -EFAULT if part of the range is not mapped; -ENOMEM
 */
int sanverbs_secure_memory(struct sanverbs_ctx *ctx, void *addr, size_t len,
			   struct sanverbs_secure **out);

/**
 * sanverbs_secure_memory() with a probe mode (MmSecureVirtualMemory's
 * ProbeMode): the range must now allow @p prot to the process, and the
 * callback also fires once when its protection drops below @p prot.
 *
 * @param prot PROT_READ (PAGE_READONLY), PROT_READ | PROT_WRITE
 *             (PAGE_READWRITE), or PROT_NONE (as sanverbs_secure_memory())
 * @return as sanverbs_secure_memory(); -EFAULT also if part of the range
 *         does not allow @p prot now; -EINVAL for another @p prot
 */
int sanverbs_secure_memory_prot(struct sanverbs_ctx *ctx, void *addr,
				size_t len, int prot,
				struct sanverbs_secure **out);

/**
 * Stop watching a range secured by sanverbs_secure_memory()
 * (MmUnsecureVirtualMemory) and free the handle.
 *
 * @return 0 or -EINVAL if @p handle is NULL
 */
int sanverbs_unsecure_memory(struct sanverbs_secure *handle);

/* ------------------------------------------------------------------------ */
/* MDLs: probe and lock, system address, fault-safe access (mdl.c & co)      */
/* ------------------------------------------------------------------------ */

/**
 * A memory descriptor list: [va, va + byte_count) of the calling process,
 * its page count and, once locked, its page-frame array (MmProbeAndLockPages
 * and friends). An MDL is owned by one thread at a time, as on Windows.
 */
struct sanverbs_mdl;
/** A memfd-backed, pinned buffer pool (the library's own buffers). */
struct sanverbs_pool;

/** Access to probe for; same values as Windows LOCK_OPERATION. */
enum sanverbs_lock_op {
	SANVERBS_IO_READ_ACCESS = 0,   /**< IoReadAccess: pages readable */
	SANVERBS_IO_WRITE_ACCESS = 1,  /**< IoWriteAccess: readable+writable */
	SANVERBS_IO_MODIFY_ACCESS = 2, /**< IoModifyAccess: same as write */
};

/** MM_PAGE_PRIORITY LowPagePriority: may fail when memory is low. */
#define SANVERBS_PAGE_PRIORITY_LOW 0u
/** MM_PAGE_PRIORITY NormalPagePriority: fails only when memory is very low. */
#define SANVERBS_PAGE_PRIORITY_NORMAL 16u
/** MM_PAGE_PRIORITY HighPagePriority: no pressure check at all. */
#define SANVERBS_PAGE_PRIORITY_HIGH 32u
/** MdlMappingNoWrite: the system address is read-only. */
#define SANVERBS_MAPPING_NO_WRITE 0x80000000u
/** MdlMappingNoExecute: accepted; a system address is never executable. */
#define SANVERBS_MAPPING_NO_EXECUTE 0x40000000u

/** Page-frame array entry when frames may not be shown (not root). */
#define SANVERBS_PFN_UNAVAILABLE UINT64_MAX

/** State bits returned by sanverbs_mdl_flags(). */
enum sanverbs_mdl_flag {
	SANVERBS_MDL_LOCKED = 1u << 0,     /**< pages locked (or partial of a locked MDL) */
	SANVERBS_MDL_PARTIAL = 1u << 1,    /**< built by sanverbs_mdl_build_partial() */
	SANVERBS_MDL_SYSTEM_VA = 1u << 2,  /**< a system address is mapped */
	SANVERBS_MDL_PFN_VALID = 1u << 3,  /**< page frames are real, not UNAVAILABLE */
	SANVERBS_MDL_PINNED = 1u << 4,     /**< pages long-term pinned by the ctx's HCA */
	SANVERBS_MDL_POOL = 1u << 5,       /**< range lies in a sanverbs pool */
	SANVERBS_MDL_WRITE = 1u << 6,      /**< locked for write/modify access */
};

/**
 * Describe [@p addr, @p addr + @p len) (IoAllocateMdl). Nothing is probed
 * or locked yet.
 *
 * @param ctx  NULL, or a context whose PD also pins the pages at lock time
 *             (a FOLL_LONGTERM pin that keeps the physical pages even if the
 *             application unmaps its range; gives sanverbs_mdl_lkey())
 * @param addr start of the buffer, any alignment
 * @param len  length in bytes, > 0, no wrap-around
 * @param out  receives the MDL
 * @return 0, -EINVAL, -ENOMEM
 */
int sanverbs_mdl_create(struct sanverbs_ctx *ctx, void *addr, size_t len,
			struct sanverbs_mdl **out);

/**
 * Describe part of a locked MDL (IoBuildPartialMdl). The partial MDL shares
 * the source's locked pages and page frames; it cannot be locked or
 * unlocked itself, and its system address is released by
 * sanverbs_mdl_free(). The source cannot be unlocked or freed while
 * partials exist (-EBUSY).
 *
 * @param src  a locked, non-partial MDL
 * @param addr start inside the source range
 * @param len  > 0; [addr, addr + len) must lie inside the source
 * @param out  receives the partial MDL
 * @return 0, -EINVAL (bad range, @p src not locked or itself partial), -ENOMEM
 */
int sanverbs_mdl_build_partial(struct sanverbs_mdl *src, void *addr,
			       size_t len, struct sanverbs_mdl **out);

/**
 * Free an MDL (IoFreeMdl). A partial MDL's system address is unmapped here.
 *
 * @return 0; -EINVAL for NULL; -EBUSY if the MDL is still locked or partial
 *         MDLs built over it still exist
 */
int sanverbs_mdl_free(struct sanverbs_mdl *mdl);

/**
 * Probe the range for @p op, make it resident and lock it (MmProbeAndLockPages).
 * Locks are counted per page: a page covered by several locked MDLs stays
 * locked until the last of them is unlocked. Fills the page-frame array.
 *
 * @param mdl an unlocked, non-partial MDL
 * @param op  SANVERBS_IO_READ/WRITE/MODIFY_ACCESS
 * @return 0; -EINVAL (bad arguments, partial MDL); -EBUSY (already locked);
 *         -EFAULT (part of the range is not mapped, or the fault failed);
 *         -EACCES (mapped without the permission @p op needs, e.g. PROT_NONE
 *         or read-only probed for write); -ENOMEM (RLIMIT_MEMLOCK or no
 *         memory); -EOPNOTSUPP (kernel older than 5.14: no MADV_POPULATE_*)
 */
int sanverbs_mdl_probe_and_lock(struct sanverbs_mdl *mdl,
				enum sanverbs_lock_op op);

/**
 * Unlock the pages (MmUnlockPages): drops this MDL's count on every page,
 * its pin and its system address.
 *
 * @return 0; -EINVAL if @p mdl is NULL, partial, or not locked (never locked
 *         or unlocked twice); -EBUSY while partial MDLs over it exist
 */
int sanverbs_mdl_unlock(struct sanverbs_mdl *mdl);

/**
 * Map the locked pages at a second, library-owned address
 * (MmGetSystemAddressForMdlSafe). The mapping shows the same physical pages,
 * is never executable, is read-only with SANVERBS_MAPPING_NO_WRITE, stays
 * valid after the application unmaps @p mdl's range, and is released by
 * sanverbs_mdl_unlock() (or sanverbs_mdl_free() for a partial MDL). Repeated
 * calls return the first mapping whatever their flags, as on Windows.
 * Pool memory is mapped again from its memfd; other memory needs the
 * sanverbs kernel module.
 *
 * @param mdl      a locked (or partial) MDL
 * @param priority SANVERBS_PAGE_PRIORITY_* OR'ed with SANVERBS_MAPPING_*
 * @param out      receives the address of the MDL's first byte, NULL on error
 * @return 0; -EINVAL (bad arguments, unknown bits, not locked); -ENOMEM
 *         (LOW: MemAvailable under 1/8 of MemTotal; NORMAL: under 1/32; or
 *         mapping failed); -EOPNOTSUPP (not pool memory and no kernel module)
 */
int sanverbs_mdl_system_address(struct sanverbs_mdl *mdl,
				unsigned int priority, void **out);

/** First byte described (MmGetMdlVirtualAddress), NULL if @p mdl is NULL. */
void *sanverbs_mdl_va(const struct sanverbs_mdl *mdl);
/** Offset of the first byte into its page (MmGetMdlByteOffset), or 0. */
size_t sanverbs_mdl_byte_offset(const struct sanverbs_mdl *mdl);
/** Bytes described (MmGetMdlByteCount), or 0. */
size_t sanverbs_mdl_byte_count(const struct sanverbs_mdl *mdl);
/** Pages spanned (ADDRESS_AND_SIZE_TO_SPAN_PAGES), or 0. */
size_t sanverbs_mdl_page_count(const struct sanverbs_mdl *mdl);
/**
 * Page-frame array (MmGetMdlPfnArray): page_count entries, valid while the
 * MDL is locked; every entry is SANVERBS_PFN_UNAVAILABLE unless the caller
 * may read frames (CAP_SYS_ADMIN). NULL if @p mdl is NULL or not locked.
 */
const uint64_t *sanverbs_mdl_pfns(const struct sanverbs_mdl *mdl);
/** OR of enum sanverbs_mdl_flag bits, or 0. */
unsigned int sanverbs_mdl_flags(const struct sanverbs_mdl *mdl);
/** Local key of the pin (SANVERBS_MDL_PINNED only), else 0. */
uint32_t sanverbs_mdl_lkey(const struct sanverbs_mdl *mdl);

/**
 * Copy from application memory that may be invalid, without a signal.
 * @return 0; -EINVAL (NULL, zero length, wrap-around); -EFAULT if some byte
 *         of @p src is unreadable (@p dst may hold a prefix)
 */
int sanverbs_safe_read(void *dst, const void *src, size_t len);
/**
 * Copy into application memory that may be invalid or read-only, without a
 * signal.
 * @return 0; -EINVAL; -EFAULT if some byte of @p dst is not writable (a
 *         prefix may have been written)
 */
int sanverbs_safe_write(void *dst, const void *src, size_t len);

/**
 * Create a pool of @p size bytes (rounded up to pages) backed by a memfd,
 * populated and pinned: registered with @p ctx's PD when @p ctx is given,
 * mlocked otherwise. MDLs over pool memory get a system address without the
 * kernel module.
 *
 * @param ctx    NULL (no registration, @p access must be 0) or a context
 * @param size   > 0
 * @param access enum sanverbs_access bits for the registration
 * @param out    receives the pool
 * @return 0, -EINVAL, -ENOMEM (no memory or RLIMIT_MEMLOCK), other -errno.
 *         Both limits are checked before any page is populated: without
 *         CAP_IPC_LOCK, @p size beyond RLIMIT_MEMLOCK minus what is already
 *         locked (VmLck, or VmPin with a @p ctx) is -ENOMEM; for anyone,
 *         @p size beyond MemAvailable is -ENOMEM.
 */
int sanverbs_pool_create(struct sanverbs_ctx *ctx, size_t size,
			 unsigned int access, struct sanverbs_pool **out);
/** Destroy a pool: 0, -EINVAL, or -EBUSY while buffers or system addresses
 *  taken from it remain. */
int sanverbs_pool_destroy(struct sanverbs_pool *pool);
/** Take a page-aligned buffer of at least @p len bytes: 0, -EINVAL, or
 *  -ENOMEM when no run of free pages is long enough. */
int sanverbs_pool_alloc(struct sanverbs_pool *pool, size_t len, void **out);
/** Return a buffer: 0, or -EINVAL if @p buf is not a live buffer of @p pool. */
int sanverbs_pool_free(struct sanverbs_pool *pool, void *buf);
/** Local key of the pool's registration, 0 without a ctx. */
uint32_t sanverbs_pool_lkey(const struct sanverbs_pool *pool);
/** Remote key of the pool's registration, 0 without a ctx. */
uint32_t sanverbs_pool_rkey(const struct sanverbs_pool *pool);


/* ------------------------------------------------------------------------ */
/* Low-memory buffers and the kernel module (lowmem.c, kmod_client.c)        */
/* ------------------------------------------------------------------------ */

/** A buffer from sanverbs_lowmem_alloc(), ready for sanverbs_mr_reg(). */
struct sanverbs_lowmem;

/** Flags of sanverbs_lowmem_alloc(). */
enum sanverbs_lowmem_flags {
	/** One physically contiguous run (MmAllocateContiguousMemory-
	 *  SpecifyCache); needs the module and is limited to the page
	 *  allocator's largest block (4 MiB on x86-64). */
	SANVERBS_LOWMEM_CONTIGUOUS = 1u << 0,
};

/** Where the pages of a low-memory buffer came from. */
enum sanverbs_lowmem_source {
	/** /dev/sanverbs, every page below 4 GiB (ZONE_DMA32). */
	SANVERBS_LOWMEM_KMOD_DMA32 = 1,
	/** /dev/sanverbs, pages from anywhere below the mask: low memory was
	 *  short, or the module runs as a NOLOWMEM system. */
	SANVERBS_LOWMEM_KMOD_ANY = 2,
	/** No module: anonymous pages locked with mlock(); only when the mask
	 *  covers every physical address (see sanverbs_lowmem_alloc()). */
	SANVERBS_LOWMEM_PINNED = 3,
};

/** DMA mask of a device that addresses 32 bits (the low-memory case). */
#define SANVERBS_DMA_MASK_32 UINT64_C(0xffffffff)
/** DMA mask of a device that addresses 64 bits. */
#define SANVERBS_DMA_MASK_64 UINT64_MAX
/** The smallest mask the module-free fallback accepts: x86-64 physical
 *  addresses have at most 52 bits. */
#define SANVERBS_DMA_MASK_ANY ((UINT64_C(1) << 52) - 1)

/**
 * Allocate zeroed, pinned memory that a device with DMA mask @p dma_mask
 * can reach, mapped read/write and ready for sanverbs_mr_reg() (the
 * AllocateCommonBuffer analogue).
 *
 * With /dev/sanverbs loaded, memory below 4 GiB is taken first; a mask wider
 * than 32 bits falls back to memory anywhere below the mask when low memory
 * is short (or under the module's `nolowmem` parameter), a 32-bit mask then
 * fails with -ENOMEM. Without the module, a mask of at least
 * #SANVERBS_DMA_MASK_ANY gets anonymous pages locked with mlock(); anything
 * narrower, and any contiguous request, is -EOPNOTSUPP.
 * sanverbs_lowmem_source() says which was done.
 *
 * @param len      bytes, > 0; rounded up to whole pages
 * @param dma_mask 2^n - 1 with 32 <= n <= 64
 * @param flags    OR of enum sanverbs_lowmem_flags
 * @param out      receives the buffer
 * @return 0; -EINVAL on bad arguments or a contiguous request larger than
 *         the module's largest block; -ENOMEM when the mask cannot be met,
 *         the module's per-file or global limit is reached, or mlock() is
 *         refused; -EOPNOTSUPP when the module is needed but absent;
 *         -EPROTO when the module speaks another ABI version
 */
int sanverbs_lowmem_alloc(size_t len, uint64_t dma_mask, unsigned int flags,
			  struct sanverbs_lowmem **out);

/**
 * Free a low-memory buffer. It must not be registered any more; a
 * registration still holding the pages keeps them pinned until it is
 * dropped, but the buffer's address is gone.
 *
 * @param buf the buffer (NULL gives -EINVAL)
 * @return 0 or -EINVAL
 */
int sanverbs_lowmem_free(struct sanverbs_lowmem *buf);

/** Start of the buffer, or NULL if @p buf is NULL. */
void *sanverbs_lowmem_addr(const struct sanverbs_lowmem *buf);
/** Usable length (the request rounded up to pages), or 0 if @p buf is NULL. */
size_t sanverbs_lowmem_length(const struct sanverbs_lowmem *buf);
/** A value of enum sanverbs_lowmem_source, or -EINVAL if @p buf is NULL. */
int sanverbs_lowmem_source(const struct sanverbs_lowmem *buf);

/**
 * Physical address of the first byte of a buffer (for a contiguous buffer,
 * of all of it), as the module reported it at allocation.
 *
 * @param buf  the buffer
 * @param phys receives the address
 * @return 0; -EINVAL on NULL arguments; -EPERM when the allocating process
 *         lacked CAP_SYS_ADMIN (physical addresses are for root only) or the
 *         buffer did not come from the module
 */
int sanverbs_lowmem_phys(const struct sanverbs_lowmem *buf, uint64_t *phys);

/**
 * ABI version of the loaded /dev/sanverbs module.
 *
 * @return the version (> 0) when the module is loaded and speaks this
 *         library's ABI; -ENODEV when it is not loaded; -EPROTO when it
 *         speaks another version; other negative errno from open()
 */
int sanverbs_kmod_version(void);

/* ------------------------------------------------------------------------ */
/* Endpoints: RC connections over librdmacm (ep.c & co)                      */
/* ------------------------------------------------------------------------ */

/**
 * Remote descriptors: what one side hands the other so the peer can RDMA-write
 * into or RDMA-read from a registered buffer. On the wire they are
 * SANVERBS_DESC_SIZE bytes in network byte order:
 * `{u32 magic, u16 version, u16 length, u64 addr, u64 len, u32 rkey,
 *   u32 access}`. A received descriptor is untrusted input: parse it with
 * sanverbs_desc_parse() before use.
 */
#define SANVERBS_DESC_MAGIC 0x53564431u /**< "SVD1" */
#define SANVERBS_DESC_VERSION 1        /**< the only version understood */
#define SANVERBS_DESC_SIZE 32          /**< encoded size in bytes */

/** A parsed (host byte order) remote descriptor. */
struct sanverbs_desc {
	uint64_t addr;   /**< start of the region in the owner's space */
	uint64_t len;    /**< length of the region in bytes, > 0 */
	uint32_t rkey;   /**< remote key of the owner's registration */
	uint32_t access; /**< SANVERBS_ACCESS_REMOTE_* bits granted */
};

/**
 * Describe a registration for a peer. Only the REMOTE_* bits of the
 * registration's access are carried.
 *
 * @return 0; -EINVAL if an argument is NULL; -EACCES if @p mr grants no
 *         remote access (a descriptor for it would be useless)
 */
int sanverbs_desc_from_mr(const struct sanverbs_mr *mr,
			  struct sanverbs_desc *out);

/**
 * Encode @p desc into @p buf. @p size is in/out: on entry the room in @p buf,
 * on return the bytes written, or the bytes needed when the room was short.
 *
 * @return 0; -EINVAL on NULL arguments or a descriptor that would not parse;
 *         -ENOSPC when *@p size < SANVERBS_DESC_SIZE (*@p size is then set
 *         to SANVERBS_DESC_SIZE and @p buf is untouched)
 */
int sanverbs_desc_encode(const struct sanverbs_desc *desc, void *buf,
			 size_t *size);

/**
 * Parse an untrusted descriptor received from a peer.
 *
 * @return 0; -EINVAL on NULL arguments; -EMSGSIZE when @p size is shorter
 *         than a descriptor or than its own length field; -EBADMSG on a
 *         wrong magic, a length field other than SANVERBS_DESC_SIZE, an empty
 *         or wrapping region, or unknown / no access bits;
 *         -EPROTONOSUPPORT on another version. @p out is only written on
 *         success.
 */
int sanverbs_desc_parse(const void *buf, size_t size,
			struct sanverbs_desc *out);

/**
 * Check that [@p offset, @p offset + @p len) lies inside the described region
 * and that the region grants @p access (SANVERBS_ACCESS_REMOTE_* bits).
 *
 * @return 0; -EINVAL on NULL, zero @p len or bad @p access bits; -ERANGE when
 *         the span leaves the region (overflow included); -EACCES when the
 *         descriptor does not grant @p access
 */
int sanverbs_desc_check(const struct sanverbs_desc *desc, uint64_t offset,
			uint64_t len, unsigned int access);

/** A connected (or listening) RC endpoint. Posts may come from one thread
 *  while another polls and arms (a completion engine); otherwise one thread
 *  at a time. Different endpoints are independent. */
struct sanverbs_ep;

/** Options for endpoints; zero fields take the defaults named here. */
struct sanverbs_ep_attr {
	uint32_t max_send_wr;  /**< send queue depth (default 64) */
	uint32_t max_recv_wr;  /**< receive queue depth (default 64) */
	uint32_t timeout_ms;   /**< address/route resolution and connection
				    establishment bound (default 10000) */
	uint8_t rnr_retry;     /**< RNR retries, 7 = infinite (default 7) */
	uint8_t retry_count;   /**< transport retries (default 7) */
	uint8_t rd_atomic;     /**< outstanding RDMA reads (default 4) */
	uint8_t reserved;      /**< must be 0 */
	uint64_t flags;        /**< reserved, must be 0 */
};

/** For sanverbs_addr_device(): @p ip is a peer to route to, not a local IP. */
#define SANVERBS_ADDR_REMOTE (1u << 0)

/**
 * Name the RDMA device that carries IPv4 or IPv6 address @p ip (a local address, or
 * with SANVERBS_ADDR_REMOTE the device a connection to that peer would leave
 * from), so the caller can open a context on it
 * (sanverbs_ctx_attr.device). Answers for the calling thread's network
 * namespace.
 *
 * @return 0; -EINVAL on bad arguments; -ENAMETOOLONG if @p size is too small;
 *         -EADDRNOTAVAIL / -ENETUNREACH / -ENODEV from address resolution
 */
int sanverbs_addr_device(const char *ip, unsigned int flags, char *name,
			 size_t size);

/**
 * Listen on IPv4 or IPv6 address @p ip (NULL or "0.0.0.0" for any) and @p port
 * (0 picks a free one; see sanverbs_ep_local_port()).
 *
 * @return 0; -EINVAL on bad arguments; -EADDRINUSE; -EADDRNOTAVAIL;
 *         -EXDEV when @p ip sits on another RDMA device than @p ctx
 */
int sanverbs_ep_listen(struct sanverbs_ctx *ctx, const char *ip,
		       uint16_t port, int backlog,
		       const struct sanverbs_ep_attr *attr,
		       struct sanverbs_ep **out);

/**
 * Wait up to @p timeout_ms (-1 = forever) for one connection on a listening
 * endpoint and accept it: sanverbs_ep_get_req() then sanverbs_ep_req_accept()
 * with no data (the peer's request data is ignored).
 *
 * @return 0; -EINVAL on bad arguments or a non-listening endpoint;
 *         -ETIMEDOUT; -EXDEV when the request arrived on another device than
 *         the listener's context; -ECONNABORTED if the peer gave up
 */
int sanverbs_ep_accept(struct sanverbs_ep *listener, int timeout_ms,
		       struct sanverbs_ep **out);

/**
 * Connect to @p ip : @p port. Every step (address and route resolution, the
 * connection handshake) is bounded by the attribute's timeout.
 *
 * @return 0; -EINVAL on bad arguments; -ETIMEDOUT; -ECONNREFUSED when nobody
 *         listens; -ENETUNREACH / -EHOSTUNREACH; -EXDEV when the route
 *         leaves from another device than @p ctx's
 */
int sanverbs_ep_connect(struct sanverbs_ctx *ctx, const char *ip,
			uint16_t port, const struct sanverbs_ep_attr *attr,
			struct sanverbs_ep **out);

/*
 * Connection data: bytes an application sends with its connection request,
 * and the listener's answer carried back in the accept or the rejection
 * (the caller and callee data of WSPConnect() and of WSPAccept()'s
 * condition function). They ride in the connection manager's private data,
 * whose room RoCE and InfiniBand fix (56, 196 and 148 bytes for request,
 * accept and reject with RDMA_PS_TCP); sanverbs keeps 4 bytes of each for a
 * header of its own that says how many bytes are the application's.
 */
#define SANVERBS_EP_REQ_DATA_MAX 52     /**< bytes with a connection request */
#define SANVERBS_EP_ACCEPT_DATA_MAX 192 /**< bytes with an accept */
#define SANVERBS_EP_REJECT_DATA_MAX 144 /**< bytes with a rejection */

/**
 * Connect as sanverbs_ep_connect(), sending @p len bytes of @p data with
 * the request and receiving the listener's answer.
 *
 * @p reply_len is in/out: on entry the room at @p reply, on return the
 * bytes the listener sent with its accept, or with its rejection when the
 * call returns -ECONNREFUSED (0 when it sent none, or when the stack, not
 * the listener, refused). With @p reply NULL (and @p reply_len NULL) the
 * listener's bytes are not wanted and dropped. Nothing is truncated: a
 * reply longer than the room fails the call.
 *
 * @return as sanverbs_ep_connect(), and: -EMSGSIZE when @p len exceeds
 *         SANVERBS_EP_REQ_DATA_MAX (nothing is sent), or when the reply
 *         does not fit the room (the connection is not made; *@p reply_len
 *         is set to the size needed); -EBADMSG when the listener's answer
 *         carries a malformed header, -EPROTONOSUPPORT another version of
 *         it (no reply bytes either way); -ECONNREFUSED when the listener
 *         rejected the request (its data in @p reply)
 */
int sanverbs_ep_connect_data(struct sanverbs_ctx *ctx, const char *ip,
			     uint16_t port, const struct sanverbs_ep_attr *attr,
			     const void *data, size_t len, void *reply,
			     size_t *reply_len, struct sanverbs_ep **out);

/** A connection request a listener received and has not answered yet. */
struct sanverbs_ep_req;

/**
 * Take the next connection request of a listening endpoint: a deferred one
 * first (sanverbs_ep_req_defer()), else the next to arrive, waiting up to
 * @p timeout_ms (-1 = forever). A request whose peer gave up while it was
 * deferred or queued is dropped, and one whose data header is malformed is
 * rejected, both without being returned. The request must then be answered with
 * sanverbs_ep_req_accept() or sanverbs_ep_req_reject(), or put back with
 * sanverbs_ep_req_defer(), before the listener is closed.
 *
 * @return 0; -EINVAL on bad arguments or a non-listening endpoint;
 *         -ETIMEDOUT; -EXDEV when the request arrived on another device
 *         than the listener's context (it is rejected); -ENOMEM
 */
int sanverbs_ep_get_req(struct sanverbs_ep *listener, int timeout_ms,
			struct sanverbs_ep_req **out);

/**
 * Copy the data the peer sent with request @p req (at most
 * SANVERBS_EP_REQ_DATA_MAX bytes, its length checked on arrival).
 * @p len is in/out: on entry the room at @p buf, on return the bytes
 * copied.
 *
 * @return 0; -EINVAL on NULL @p req or @p len, or NULL @p buf with room;
 *         -ENOSPC when the room is short (*@p len is set to the size
 *         needed and nothing is copied)
 */
int sanverbs_ep_req_data(const struct sanverbs_ep_req *req, void *buf,
			 size_t *len);

/**
 * The address of the peer that sent @p req (struct sockaddr_in or
 * sockaddr_in6). @p len is in/out: the room at @p addr, then the size.
 *
 * @return 0; -EINVAL; -ENOSPC when *@p len is too small
 */
int sanverbs_ep_req_peer_addr(const struct sanverbs_ep_req *req,
			      struct sockaddr *addr, size_t *len);

/**
 * Accept @p req, sending @p len bytes of @p data with the accept, and wait
 * (bounded by the listener's attribute timeout) for the connection. The
 * endpoint has the listener's context and attributes.
 *
 * @return 0 and the endpoint in *@p out; -EINVAL on bad arguments and
 *         -EMSGSIZE when @p len exceeds SANVERBS_EP_ACCEPT_DATA_MAX: then
 *         nothing was sent and @p req is still the caller's; on any other
 *         return @p req is consumed (freed): -ECONNABORTED when the peer
 *         gave up before the accept, -ETIMEDOUT or -ECONNREFUSED when it
 *         did not answer it or turned it down, -ENOMEM
 */
int sanverbs_ep_req_accept(struct sanverbs_ep_req *req, const void *data,
			   size_t len, struct sanverbs_ep **out);

/**
 * Refuse @p req, sending @p len bytes of @p data with the rejection (the
 * connecting side's call fails with -ECONNREFUSED and gets them).
 *
 * @return 0 (@p req is consumed, also when the peer had already gone);
 *         -EINVAL on NULL @p req or NULL @p data with a length, and
 *         -EMSGSIZE when @p len exceeds SANVERBS_EP_REJECT_DATA_MAX: then
 *         nothing was sent and @p req is still the caller's
 */
int sanverbs_ep_req_reject(struct sanverbs_ep_req *req, const void *data,
			   size_t len);

/**
 * Leave @p req pending: it goes back to the head of its listener's queue,
 * and the next sanverbs_ep_get_req() (or sanverbs_ep_accept()) on the
 * listener returns it again; meanwhile the listener's sanverbs_ep_fd() is
 * readable. The peer keeps waiting, within its own connection timeout.
 * @p req is no longer the caller's.
 *
 * @return 0; -EINVAL on NULL
 */
int sanverbs_ep_req_defer(struct sanverbs_ep_req *req);

/** Local TCP-style port of @p ep (listening or connected), or 0. */
uint16_t sanverbs_ep_local_port(const struct sanverbs_ep *ep);
/**
 * The peer's address of a connected endpoint (a struct sockaddr_in or
 * sockaddr_in6). @p len is in/out: the room at @p addr, then the size.
 *
 * @return 0; -EINVAL; -ENOSPC when *@p len is too small
 */
int sanverbs_ep_peer_addr(const struct sanverbs_ep *ep, struct sockaddr *addr,
			  size_t *len);
/** The context @p ep was created on, or NULL. */
struct sanverbs_ctx *sanverbs_ep_ctx(const struct sanverbs_ep *ep);

/**
 * Orderly disconnect: flush outstanding work (its completions report
 * -ECANCELED), tell the peer, and wait (bounded) for its answer. Idempotent.
 *
 * @return 0; -EINVAL if @p ep is NULL or listening
 */
int sanverbs_ep_disconnect(struct sanverbs_ep *ep);

/**
 * Disconnect if needed and free the endpoint. Registrations are the
 * caller's: an endpoint holds none (a SAN provider releases a connection's
 * registrations itself before closing it, see docs/provider.md).
 *
 * @return 0 or -EINVAL
 */
int sanverbs_ep_close(struct sanverbs_ep *ep);

/**
 * A file descriptor that becomes readable when @p ep may have completions
 * or connection events to reap, for poll()/epoll: one completion engine can
 * drive many endpoints. Level-triggered until sanverbs_ep_arm() consumes
 * the notification. For a listening endpoint: readable while a connection
 * request waits for sanverbs_ep_accept() or sanverbs_ep_get_req(), a
 * deferred one included. Owned by the endpoint (closed by
 * sanverbs_ep_close()).
 *
 * @return the descriptor, or -EINVAL
 */
int sanverbs_ep_fd(const struct sanverbs_ep *ep);

/**
 * Consume what made sanverbs_ep_fd() readable (completion and connection
 * events, acting on a peer's disconnect) and ask for a notification of the
 * next completion. A completion that arrived before the arm raises none:
 * call sanverbs_ep_poll() after arming and sleep only if it found nothing.
 *
 * @return 0; -EINVAL; -EIO if the device refused the request
 */
int sanverbs_ep_arm(struct sanverbs_ep *ep);

/** Whether @p ep is connected (neither side has left, no fatal error). */
int sanverbs_ep_connected(const struct sanverbs_ep *ep);

/**
 * A registered local span: what every post takes, whichever call made the
 * registration (sanverbs_mr_region(), sanverbs_mdl_region(),
 * sanverbs_pool_region()). It is a plain value: the registration it was
 * taken from must stay alive while posts use it.
 */
struct sanverbs_region {
	void *addr;      /**< first registered byte */
	uint64_t len;    /**< registered bytes */
	uint32_t lkey;   /**< local key */
	uint32_t access; /**< enum sanverbs_access bits of the registration */
};

/** Fill @p out from a registration: 0, or -EINVAL on NULL. */
int sanverbs_mr_region(const struct sanverbs_mr *mr,
		       struct sanverbs_region *out);
/** Fill @p out from a locked MDL pinned through a context (its pages, with
 *  LOCAL_WRITE when locked for write): 0; -EINVAL on NULL or an MDL with no
 *  pin (not locked, or created without a context). */
int sanverbs_mdl_region(const struct sanverbs_mdl *mdl,
			struct sanverbs_region *out);
/** Fill @p out with the whole registered pool: 0; -EINVAL on NULL or a
 *  pool created without a context. */
int sanverbs_pool_region(const struct sanverbs_pool *pool,
			 struct sanverbs_region *out);

/** Post flag: no completion for this work request on success (it is
 *  retired by the next signaled one; the caller keeps the send queue from
 *  overflowing, as with verbs). Failures always complete. */
#define SANVERBS_POST_UNSIGNALED (1u << 0)

/** What a completion reports. */
enum sanverbs_wc_opcode {
	SANVERBS_WC_SEND = 1,  /**< a sanverbs_ep_post_send() finished */
	SANVERBS_WC_RECV = 2,  /**< a message landed in a posted receive */
	SANVERBS_WC_WRITE = 3, /**< a sanverbs_ep_post_write() finished */
	SANVERBS_WC_READ = 4,  /**< a sanverbs_ep_post_read() finished */
};

/** One completion. */
struct sanverbs_wc {
	uint64_t wr_id;    /**< the caller's tag from the post */
	int status;        /**< 0, or a negative errno: -EACCES (the peer's
			        device refused the access), -ETIMEDOUT (the
			        peer stopped answering), -ECANCELED (flushed
			        by a disconnect), -EMSGSIZE, -EREMOTEIO, -EIO */
	uint32_t opcode;   /**< enum sanverbs_wc_opcode */
	uint32_t byte_len; /**< bytes received (RECV only) */
	uint32_t vendor;   /**< raw ibv_wc_status, for diagnostics */
};

/**
 * Post a send of [@p buf, @p buf + @p len) which must lie inside @p reg.
 * @p len may be 0 (then @p reg and @p buf may be NULL). Sends up to the
 * endpoint's inline limit are copied into the work request (the buffer is
 * free again when the call returns).
 *
 * @param flags 0 or SANVERBS_POST_UNSIGNALED
 * @return 0; -EINVAL on bad arguments or a span outside @p reg; -ENOTCONN
 *         when not connected; -ENOBUFS when the send queue is full
 */
int sanverbs_ep_post_send(struct sanverbs_ep *ep,
			  const struct sanverbs_region *reg, const void *buf,
			  size_t len, uint64_t wr_id, unsigned int flags);

/**
 * Post a receive buffer [@p buf, @p buf + @p len) inside @p reg, which must
 * grant LOCAL_WRITE.
 *
 * @return 0; -EINVAL; -EACCES if @p reg lacks LOCAL_WRITE; -ENOTCONN;
 *         -ENOBUFS
 */
int sanverbs_ep_post_recv(struct sanverbs_ep *ep,
			  const struct sanverbs_region *reg, void *buf,
			  size_t len, uint64_t wr_id);

/**
 * RDMA-write [@p buf, @p buf + @p len) (inside @p reg) to @p offset of the
 * region described by @p desc. The span is checked against the descriptor
 * first; the peer's device enforces its rkey and access. Writes up to the
 * inline limit are copied into the work request.
 *
 * @param flags 0 or SANVERBS_POST_UNSIGNALED
 * @return 0; -EINVAL; -ERANGE when the target span leaves the described
 *         region; -EACCES when the descriptor grants no REMOTE_WRITE;
 *         -ENOTCONN; -ENOBUFS
 */
int sanverbs_ep_post_write(struct sanverbs_ep *ep,
			   const struct sanverbs_region *reg, const void *buf,
			   size_t len, const struct sanverbs_desc *desc,
			   uint64_t offset, uint64_t wr_id, unsigned int flags);

/**
 * RDMA-read @p len bytes at @p offset of the region described by @p desc into
 * [@p buf, @p buf + @p len) inside @p reg (which must grant LOCAL_WRITE).
 *
 * @param flags 0 or SANVERBS_POST_UNSIGNALED
 * @return as sanverbs_ep_post_write(), -EACCES also when the descriptor grants
 *         no REMOTE_READ or @p reg lacks LOCAL_WRITE
 */
int sanverbs_ep_post_read(struct sanverbs_ep *ep,
			  const struct sanverbs_region *reg, void *buf,
			  size_t len, const struct sanverbs_desc *desc,
			  uint64_t offset, uint64_t wr_id, unsigned int flags);

/**
 * Reap up to @p max completions without blocking. Also notices a peer's
 * disconnect (the connection then reports -ENOTCONN for new posts and its
 * outstanding work completes with -ECANCELED).
 *
 * @return the number of completions written to @p wc (0 if none), or
 *         -EINVAL
 */
int sanverbs_ep_poll(struct sanverbs_ep *ep, struct sanverbs_wc *wc, int max);

/**
 * As sanverbs_ep_poll() but wait up to @p timeout_ms (-1 = forever) for at
 * least one completion.
 *
 * @return the number of completions (>= 1); -ETIMEDOUT; -ENOTCONN when the
 *         connection is gone and nothing is left to reap; -EINVAL
 */
int sanverbs_ep_wait(struct sanverbs_ep *ep, struct sanverbs_wc *wc, int max,
		     int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* SANVERBS_H */
