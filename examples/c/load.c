/*
 * load.c - ds-runtime's C ABI end to end: loads a file raw and a GDeflate tile stream of the
 * same bytes decoded, into host memory (and, on a Vulkan runtime, into a Vulkan buffer),
 * waits through status slots, checks the decoded bytes against the raw copy, compresses the
 * raw copy with the library's codec and loads that back from memory, then shows cancellation
 * by tag and the error record of a bad request.
 *
 *   load STREAM.gdf ORIGINAL [cpu|vulkan]
 *
 * STREAM.gdf is a DirectStorage GDeflate tile stream whose decoded bytes are ORIGINAL (e.g.
 * `dsr compress ORIGINAL STREAM.gdf`). Exit status: 0 when every check passed, 1 on any
 * failure, 77 when the Vulkan runtime asked for is unavailable here.
 *
 * Build (see capi/README.md):
 *   cc -std=c11 -Wall -Wextra -Werror examples/c/load.c $(pkg-config --cflags --libs ds_runtime)
 */
#include <ds_runtime.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failing call and the library's message, and exits 1. */
#define CHECK(call)                                                                          \
    do {                                                                                     \
        dsr_result r_ = (call);                                                              \
        if (r_ != DSR_RESULT_OK) {                                                           \
            fprintf(stderr, "FAIL %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,         \
                    dsr_result_string(r_), dsr_last_error_message());                        \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* Fails unless `call` returns exactly `expected`. */
#define EXPECT(call, expected)                                                               \
    do {                                                                                     \
        dsr_result r_ = (call);                                                              \
        if (r_ != (expected)) {                                                              \
            fprintf(stderr, "FAIL %s:%d: %s -> %s, expected %s (%s)\n", __FILE__, __LINE__,  \
                    #call, dsr_result_string(r_), dsr_result_string(expected),               \
                    dsr_last_error_message());                                               \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

static void fail(const char *what) {
    fprintf(stderr, "FAIL: %s\n", what);
    exit(1);
}

/* FNV-1a, to print a short fingerprint of what was loaded. */
static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* Completion callback: counts completions and cancellations (called on pipeline threads). */
static atomic_int completions;
static atomic_int cancellations;
static void on_complete(void *user_data, const dsr_completion *c) {
    (void)user_data;
    atomic_fetch_add(&completions, 1);
    if (c->result == DSR_RESULT_CANCELLED) {
        atomic_fetch_add(&cancellations, 1);
    }
}

static dsr_request file_request(dsr_file *file, uint64_t size, const char *name, uint64_t tag) {
    dsr_request req;
    memset(&req, 0, sizeof req);
    req.source.kind = DSR_SOURCE_FILE;
    req.source.file = file;
    req.source.offset = 0;
    req.source.size = size;
    req.compression = DSR_COMPRESSION_NONE;
    req.tag = tag;
    req.name = name;
    req.callback = on_complete;
    return req;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s STREAM.gdf ORIGINAL [cpu|vulkan]\n", argv[0]);
        return 2;
    }
    int vulkan = argc == 4 && strcmp(argv[3], "vulkan") == 0;
    if (argc == 4 && !vulkan && strcmp(argv[3], "cpu") != 0) {
        fprintf(stderr, "backend must be cpu or vulkan\n");
        return 2;
    }

    /* 1. The library matches the header. */
    dsr_version version;
    CHECK(dsr_get_version(&version));
    if (version.abi_major != DSR_ABI_VERSION_MAJOR || version.abi_minor < DSR_ABI_VERSION_MINOR) {
        fail("the library's ABI version does not match ds_runtime.h");
    }
    printf("ds-runtime %u.%u.%u, C ABI %u.%u\n", version.major, version.minor, version.patch,
           version.abi_major, version.abi_minor);
    dsr_capabilities_info caps;
    CHECK(dsr_capabilities(&caps));
    printf("capabilities: vulkan=%d io_uring=%d gpu_decode=%d external_memory_host=%d device=\"%s\"\n",
           !!(caps.flags & DSR_CAP_VULKAN), !!(caps.flags & DSR_CAP_IO_URING),
           !!(caps.flags & DSR_CAP_GPU_DECODE), !!(caps.flags & DSR_CAP_EXTERNAL_MEMORY_HOST),
           caps.vulkan_device_name);

    /* 2. A runtime, a queue, a status array. */
    dsr_runtime_desc rd;
    memset(&rd, 0, sizeof rd);
    rd.backend = vulkan ? DSR_BACKEND_VULKAN : DSR_BACKEND_CPU;
    dsr_runtime *rt = NULL;
    dsr_result created = dsr_runtime_create(&rd, &rt);
    if (vulkan && created == DSR_RESULT_UNSUPPORTED) {
        printf("SKIP vulkan: %s\n", dsr_last_error_message());
        return 77;
    }
    CHECK(created);
    dsr_runtime_info info;
    CHECK(dsr_runtime_get_info(rt, &info));
    printf("runtime: backend=%s io=%s device=\"%s\"\n", info.backend == DSR_BACKEND_VULKAN ? "vulkan" : "cpu",
           info.io == DSR_IO_URING ? "io_uring" : "pread", info.device_name);

    dsr_queue_desc qd = {.capacity = 64, .priority = DSR_PRIORITY_NORMAL, .name = "load.c"};
    dsr_queue *queue = NULL;
    CHECK(dsr_queue_create(rt, &qd, &queue));
    dsr_status_array *status = NULL;
    CHECK(dsr_status_array_create(16, &status));

    dsr_file *stream = NULL, *original = NULL;
    CHECK(dsr_file_open(argv[1], &stream));
    CHECK(dsr_file_open(argv[2], &original));
    uint64_t stream_size = 0, size = 0;
    CHECK(dsr_file_size(stream, &stream_size));
    CHECK(dsr_file_size(original, &size));

    /* 3. A raw read and a GDeflate decode into host memory; slots 0 and 1, marker in 2. */
    unsigned char *raw = malloc(size ? size : 1);
    unsigned char *decoded = malloc(size ? size : 1);
    if (!raw || !decoded) fail("out of memory");
    dsr_request req = file_request(original, size, "raw", 1);
    req.destination.kind = DSR_DESTINATION_MEMORY;
    req.destination.memory = raw;
    req.destination.size = size;
    req.status_array = status;
    req.status_index = 0;
    CHECK(dsr_queue_enqueue(queue, &req));

    req = file_request(stream, stream_size, "decoded", 2);
    req.compression = DSR_COMPRESSION_GDEFLATE;
    req.uncompressed_size = size;
    req.destination.kind = DSR_DESTINATION_MEMORY;
    req.destination.memory = decoded;
    req.destination.size = size;
    req.status_array = status;
    req.status_index = 1;
    CHECK(dsr_queue_enqueue(queue, &req));
    CHECK(dsr_queue_enqueue_status(queue, status, 2));

    /* A destination too small is refused at enqueue, and nothing is written. */
    req.destination.size = size - 1;
    req.status_array = NULL;
    EXPECT(dsr_queue_enqueue(queue, &req), DSR_RESULT_INVALID_ARGUMENT);

    bool complete = true;
    CHECK(dsr_status_array_is_complete(status, 2, &complete));
    if (complete) fail("the marker completed before submit");
    EXPECT(dsr_status_array_get_result(status, 2), DSR_RESULT_NOT_READY);
    CHECK(dsr_queue_submit(queue));
    for (uint32_t slot = 0; slot < 3; slot++) {
        CHECK(dsr_status_array_wait(status, slot, DSR_WAIT_INFINITE));
    }
    printf("raw read: OK, %llu bytes, fnv1a %016llx\n", (unsigned long long)size,
           (unsigned long long)fnv1a(raw, size));
    if (memcmp(raw, decoded, size) != 0) fail("the decoded bytes differ from the raw copy");
    printf("gdeflate decode: OK, %llu -> %llu bytes, matches the raw copy\n",
           (unsigned long long)stream_size, (unsigned long long)size);

    /* 3b. The codec from C: compress the raw copy, load it back from memory through the queue. */
    uint64_t bound = 0, packed_size = 0, stated = 0;
    CHECK(dsr_gdeflate_compress_bound(size, &bound));
    unsigned char *packed = malloc(bound ? bound : 1);
    if (!packed) fail("out of memory");
    CHECK(dsr_gdeflate_compress(raw, size, DSR_GDEFLATE_LEVEL_FASTEST, 0, packed, bound, &packed_size));
    CHECK(dsr_gdeflate_uncompressed_size(packed, packed_size, &stated));
    if (stated != size) fail("the compressed stream states another size");
    memset(decoded, 0, size);
    memset(&req, 0, sizeof req);
    req.source.kind = DSR_SOURCE_MEMORY;
    req.source.memory = packed;
    req.source.size = packed_size;
    req.compression = DSR_COMPRESSION_GDEFLATE;
    req.uncompressed_size = size;
    req.destination.kind = DSR_DESTINATION_MEMORY;
    req.destination.memory = decoded;
    req.destination.size = size;
    req.name = "from-memory";
    req.status_array = status;
    req.status_index = 8;
    CHECK(dsr_queue_enqueue(queue, &req));
    CHECK(dsr_queue_submit(queue));
    CHECK(dsr_status_array_wait(status, 8, DSR_WAIT_INFINITE));
    if (memcmp(raw, decoded, size) != 0) fail("the bytes decoded from memory differ from the raw copy");
    printf("memory source: OK, compressed in C to %llu bytes, decoded through the queue\n",
           (unsigned long long)packed_size);
    free(packed);

    /* 4. Vulkan: decode into a GPU buffer, get the timeline semaphore value, read it back. */
    if (info.backend == DSR_BACKEND_VULKAN) {
        uint64_t buffer_size = (size + 3) / 4 * 4; /* GDeflate into buffers: whole words */
        dsr_vk_buffer *buffer = NULL;
        CHECK(dsr_vk_buffer_create(rt, buffer_size ? buffer_size : 4, DSR_VK_MEMORY_READBACK, &buffer));
        req = file_request(stream, stream_size, "to-gpu", 3);
        req.compression = DSR_COMPRESSION_GDEFLATE;
        req.uncompressed_size = size;
        req.destination.kind = DSR_DESTINATION_VK_BUFFER;
        req.destination.buffer = buffer;
        req.destination.offset = 0;
        req.status_array = status;
        req.status_index = 3;
        CHECK(dsr_queue_enqueue(queue, &req));
        CHECK(dsr_queue_submit(queue));
        CHECK(dsr_status_array_wait(status, 3, DSR_WAIT_INFINITE));
        uint64_t semaphore = 0, value = 0, queue_semaphore = 0;
        CHECK(dsr_status_array_get_timeline(status, 3, &semaphore, &value));
        CHECK(dsr_queue_get_timeline_semaphore(queue, &queue_semaphore));
        if (semaphore == 0 || semaphore != queue_semaphore || value == 0) {
            fail("no timeline semaphore value for a GPU request");
        }
        memset(decoded, 0, size);
        CHECK(dsr_vk_buffer_read(buffer, 0, decoded, size));
        if (memcmp(raw, decoded, size) != 0) fail("the GPU-decoded bytes differ from the raw copy");
        printf("vulkan buffer: OK, decoded on the GPU, timeline value %llu, matches the raw copy\n",
               (unsigned long long)value);
        CHECK(dsr_vk_buffer_destroy(buffer));
    }

    /* 5. Cancellation by tag: three requests tagged 0xC0FFEE00 | i, cancelled before submit. */
    atomic_store(&cancellations, 0);
    for (uint32_t i = 0; i < 3; i++) {
        req = file_request(original, size, "cancel-me", 0xC0FFEE00u | i);
        req.destination.kind = DSR_DESTINATION_MEMORY;
        req.destination.memory = raw;
        req.destination.size = size;
        req.status_array = status;
        req.status_index = 4 + i;
        CHECK(dsr_queue_enqueue(queue, &req));
    }
    uint32_t matched = 0;
    CHECK(dsr_queue_cancel(queue, 0xFFFFFF00u, 0xC0FFEE00u, &matched));
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT(dsr_status_array_wait(status, 4 + i, DSR_WAIT_INFINITE), DSR_RESULT_CANCELLED);
    }
    if (matched != 3 || atomic_load(&cancellations) != 3) fail("cancel did not cancel exactly 3");
    printf("cancelled: %u of 3 (callbacks saw %d)\n", matched, atomic_load(&cancellations));

    /* 6. A bad request: the stated uncompressed size disagrees with the stream's header. */
    req = file_request(stream, stream_size, "bad-size", 4);
    req.compression = DSR_COMPRESSION_GDEFLATE;
    req.uncompressed_size = size - 1;
    req.destination.kind = DSR_DESTINATION_MEMORY;
    req.destination.memory = decoded;
    req.destination.size = size;
    req.status_array = status;
    req.status_index = 7;
    CHECK(dsr_queue_enqueue(queue, &req));
    CHECK(dsr_queue_drain(queue));
    EXPECT(dsr_status_array_get_result(status, 7), DSR_RESULT_CORRUPT_DATA);
    dsr_error_record record;
    CHECK(dsr_queue_get_error_record(queue, &record));
    if (record.failure_count != 1 || !record.has_failure || strcmp(record.first_name, "bad-size") != 0 ||
        record.first_result != DSR_RESULT_CORRUPT_DATA) {
        fail("the error record does not name the bad request");
    }
    printf("error record: %llu failure, first `%s` %s: %s\n", (unsigned long long)record.failure_count,
           record.first_name, dsr_result_string(record.first_result), record.first_message);

    /* 7. Statistics, and teardown (a second destroy is refused, not a crash). */
    dsr_queue_stats stats;
    CHECK(dsr_queue_get_stats(queue, &stats));
    printf("stats: completed=%llu failed=%llu cancelled=%llu bytes_read=%llu bytes_written=%llu\n",
           (unsigned long long)stats.completed, (unsigned long long)stats.failed,
           (unsigned long long)stats.cancelled, (unsigned long long)stats.bytes_read,
           (unsigned long long)stats.bytes_written);
    if (stats.failed != 1 || stats.cancelled != 3) fail("unexpected statistics");
    CHECK(dsr_queue_destroy(queue));
    EXPECT(dsr_queue_destroy(queue), DSR_RESULT_INVALID_ARGUMENT);
    CHECK(dsr_file_destroy(stream));
    CHECK(dsr_file_destroy(original));
    CHECK(dsr_status_array_destroy(status));
    CHECK(dsr_runtime_destroy(rt));
    printf("callbacks: %d\n", atomic_load(&completions));
    free(raw);
    free(decoded);
    printf("all checks passed\n");
    return 0;
}
