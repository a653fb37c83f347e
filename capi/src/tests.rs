//! Tests of the C ABI through its `extern "C"` functions, as C calls them (unit tests: the
//! crate's library is named `ds_runtime` like ds-runtime's, so it builds no rlib for
//! integration tests; see Cargo.toml). GPU tests run on any Vulkan device (lavapipe in CI)
//! and skip without one unless `DSR_REQUIRE_GPU=1`.

use super::*;
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

fn last_error() -> String {
    // SAFETY: never null, NUL-terminated, valid until the next failing call on this thread.
    unsafe { CStr::from_ptr(dsr_last_error_message()) }.to_string_lossy().into_owned()
}

#[track_caller]
fn ok(r: dsr_result) {
    assert_eq!(r, DSR_RESULT_OK, "{}: {}", name(r), last_error());
}

fn name(r: dsr_result) -> String {
    // SAFETY: static NUL-terminated string.
    unsafe { CStr::from_ptr(dsr_result_string(r)) }.to_string_lossy().into_owned()
}

fn runtime(backend: dsr_backend) -> Result<*mut dsr_runtime, dsr_result> {
    let desc = dsr_runtime_desc {
        backend,
        io: DSR_IO_AUTO,
        flags: 0,
        io_depth: 0,
        cpu_threads: 2,
        staging_bytes: 8 << 20,
        chunk_bytes: 1 << 20,
        adopt: null(),
    };
    let mut rt = null_mut();
    // SAFETY: valid desc and out pointer.
    match unsafe { dsr_runtime_create(&desc, &mut rt) } {
        DSR_RESULT_OK => Ok(rt),
        e => Err(e),
    }
}

fn cpu_runtime() -> *mut dsr_runtime {
    runtime(DSR_BACKEND_CPU).unwrap_or_else(|e| panic!("{}: {}", name(e), last_error()))
}

/// A Vulkan runtime, or `None` (skip) without a device unless `DSR_REQUIRE_GPU=1`.
fn vulkan_runtime(test: &str) -> Option<*mut dsr_runtime> {
    match runtime(DSR_BACKEND_VULKAN) {
        Ok(rt) => Some(rt),
        Err(DSR_RESULT_UNSUPPORTED) if !require_gpu() => {
            eprintln!("NOTICE: {test} skipped: {} (set DSR_REQUIRE_GPU=1 to fail instead)", last_error());
            None
        }
        Err(e) => panic!("{test}: {}: {}", name(e), last_error()),
    }
}

fn queue(rt: *mut dsr_runtime, capacity: u32) -> *mut dsr_queue {
    let desc = dsr_queue_desc { capacity, priority: DSR_PRIORITY_NORMAL, name: c"test".as_ptr() };
    let mut q = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_queue_create(rt, &desc, &mut q) });
    q
}

fn status_array(n: u32) -> *mut dsr_status_array {
    let mut a = null_mut();
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_status_array_create(n, &mut a) });
    a
}

/// A request reading `src` (memory) into `dst` (memory), no status.
fn memory_request(src: &[u8], dst: &mut [u8], tag: u64) -> dsr_request {
    dsr_request {
        source: dsr_source {
            kind: DSR_SOURCE_MEMORY,
            file: null(),
            memory: src.as_ptr().cast(),
            offset: 0,
            size: src.len() as u64,
        },
        destination: dsr_destination {
            kind: DSR_DESTINATION_MEMORY,
            memory: dst.as_mut_ptr().cast(),
            size: dst.len() as u64,
            buffer: null(),
            offset: 0,
            image: null(),
            region: dsr_image_region::default(),
        },
        compression: DSR_COMPRESSION_NONE,
        uncompressed_size: 0,
        tag,
        name: c"memory".as_ptr(),
        status_array: null(),
        status_index: 0,
        callback: None,
        user_data: null_mut(),
    }
}

fn enqueue(q: *mut dsr_queue, r: &dsr_request) -> dsr_result {
    // SAFETY: `r`'s memory outlives the request in every test (they drain or wait).
    unsafe { dsr_queue_enqueue(q, r) }
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8).collect()
}

#[test]
fn null_and_stale_handles_are_refused_with_a_message() {
    assert_eq!(dsr_queue_submit(null()), DSR_RESULT_INVALID_ARGUMENT);
    assert!(last_error().contains("null"), "{}", last_error());
    let forged = std::ptr::without_provenance::<dsr_queue>(0xdead_bee0);
    assert_eq!(dsr_queue_submit(forged), DSR_RESULT_INVALID_ARGUMENT);
    assert!(last_error().contains("not a live dsr_queue"), "{}", last_error());
    let rt = cpu_runtime();
    // A runtime handle where a queue handle belongs.
    assert_eq!(dsr_queue_submit(rt.cast()), DSR_RESULT_INVALID_ARGUMENT);
    let mut out = null_mut();
    // SAFETY: valid pointers; a null desc means the defaults.
    assert_eq!(unsafe { dsr_queue_create(null(), null(), &mut out) }, DSR_RESULT_INVALID_ARGUMENT);
    // SAFETY: null out pointer is refused before any write.
    assert_eq!(unsafe { dsr_queue_create(rt, null(), null_mut()) }, DSR_RESULT_INVALID_ARGUMENT);
    // SAFETY: as above.
    assert_eq!(unsafe { dsr_runtime_get_info(rt, null_mut()) }, DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_runtime_destroy(rt));
    assert_eq!(dsr_runtime_destroy(rt), DSR_RESULT_INVALID_ARGUMENT, "double destroy");
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut info: dsr_runtime_info = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { dsr_runtime_get_info(rt, &mut info) }, DSR_RESULT_INVALID_ARGUMENT);
}

#[test]
fn every_handle_kind_refuses_a_second_destroy() {
    let rt = cpu_runtime();
    let q = queue(rt, 4);
    let a = status_array(2);
    let tmp = tempfile::NamedTempFile::new().expect("tmp");
    let path = CString::new(tmp.path().as_os_str().as_encoded_bytes()).expect("path");
    let mut f = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_file_open(path.as_ptr(), &mut f) });
    ok(dsr_file_destroy(f));
    assert_eq!(dsr_file_destroy(f), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_status_array_destroy(a));
    assert_eq!(dsr_status_array_destroy(a), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_queue_destroy(q));
    assert_eq!(dsr_queue_destroy(q), DSR_RESULT_INVALID_ARGUMENT);
    // Destroying with the wrong function is refused and leaves the handle alive.
    assert_eq!(dsr_queue_destroy(rt.cast()), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_runtime_destroy(rt));
    assert_eq!(dsr_vk_buffer_destroy(null_mut()), DSR_RESULT_INVALID_ARGUMENT);
    assert_eq!(dsr_vk_image_destroy(null_mut()), DSR_RESULT_INVALID_ARGUMENT);
}

#[test]
fn unknown_constants_are_invalid_arguments_not_ub() {
    for backend in [3, 77, u32::MAX] {
        assert_eq!(runtime(backend), Err(DSR_RESULT_INVALID_ARGUMENT));
        assert!(last_error().contains("unknown backend"), "{}", last_error());
    }
    let rt = cpu_runtime();
    let q = queue(rt, 4);
    let src = bytes(100, 1);
    let mut dst = vec![0u8; 100];
    let mut r = memory_request(&src, &mut dst, 0);
    r.compression = 9;
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    r.compression = DSR_COMPRESSION_NONE;
    r.source.kind = 5;
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    r.source.kind = DSR_SOURCE_MEMORY;
    r.destination.kind = 5;
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    let desc = dsr_queue_desc { capacity: 1, priority: 4, name: null() };
    let mut out = null_mut();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_queue_create(rt, &desc, &mut out) }, DSR_RESULT_INVALID_ARGUMENT);
    let mut buffer = null_mut();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_vk_buffer_create(rt, 64, 9, &mut buffer) }, DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_queue_destroy(q));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn result_strings_are_distinct_and_unknown_codes_are_named_unknown() {
    let names: Vec<String> = (0..=DSR_RESULT_INTERNAL).map(name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    assert!(names.iter().all(|n| n.starts_with("DSR_RESULT_") && n != "DSR_RESULT_UNKNOWN"));
    assert_eq!(name(-1), "DSR_RESULT_UNKNOWN");
    assert_eq!(name(DSR_RESULT_INTERNAL + 1), "DSR_RESULT_UNKNOWN");
}

#[test]
fn a_panic_inside_an_entry_point_becomes_internal_with_its_message() {
    let r = guard(|| panic!("boom at the boundary"));
    assert_eq!(r, DSR_RESULT_INTERNAL);
    assert!(last_error().contains("boom at the boundary"), "{}", last_error());
}

#[test]
fn version_matches_the_abi_constants() {
    let mut v = dsr_version::default();
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_get_version(&mut v) });
    assert_eq!((v.abi_major, v.abi_minor), (DSR_ABI_VERSION_MAJOR, DSR_ABI_VERSION_MINOR));
    assert_eq!(format!("{}.{}.{}", v.major, v.minor, v.patch), env!("CARGO_PKG_VERSION"));
    // SAFETY: null is refused before any write.
    assert_eq!(unsafe { dsr_get_version(null_mut()) }, DSR_RESULT_INVALID_ARGUMENT);
}

#[test]
fn capabilities_report_cpu_and_agree_with_vulkan_runtime_creation() {
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut caps: dsr_capabilities_info = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_capabilities(&mut caps) });
    assert_ne!(caps.flags & DSR_CAP_CPU, 0);
    assert_ne!(caps.flags & DSR_CAP_PREAD, 0);
    let vulkan = runtime(DSR_BACKEND_VULKAN);
    assert_eq!(
        caps.flags & DSR_CAP_VULKAN != 0,
        vulkan.is_ok(),
        "capabilities vs creation: {}",
        last_error()
    );
    if require_gpu() {
        assert_ne!(caps.flags & DSR_CAP_VULKAN, 0, "DSR_REQUIRE_GPU=1 but no Vulkan capability");
    }
    if let Ok(rt) = vulkan {
        // SAFETY: the array is NUL-terminated by `fill_c_array`.
        let device = unsafe { CStr::from_ptr(caps.vulkan_device_name.as_ptr()) };
        assert!(!device.is_empty());
        ok(dsr_runtime_destroy(rt));
    }
}

#[test]
fn memory_to_memory_requests_complete_into_status_slots_and_callbacks() {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    static TAGS: AtomicU64 = AtomicU64::new(0);
    unsafe extern "C" fn cb(user: *mut c_void, c: *const dsr_completion) {
        // SAFETY: the library passes a valid completion for the duration of the call.
        let c = unsafe { &*c };
        assert_eq!(user as usize, 0x5eed);
        assert_eq!(c.result, DSR_RESULT_OK);
        CALLS.fetch_add(1, Ordering::SeqCst);
        TAGS.fetch_add(c.tag, Ordering::SeqCst);
    }
    let rt = cpu_runtime();
    let q = queue(rt, 8);
    let a = status_array(4);
    let src = bytes(300_000, 7);
    let stream = dsr_gdeflate::compress(&src, dsr_gdeflate::Level::DEFAULT, 0).expect("compress");
    let mut raw = vec![0u8; src.len()];
    let mut decoded = vec![0u8; src.len() + 10];
    let mut r = memory_request(&src, &mut raw, 5);
    r.status_array = a;
    r.status_index = 0;
    r.callback = Some(cb);
    r.user_data = 0x5eed as *mut c_void;
    ok(enqueue(q, &r));
    let mut r = memory_request(&stream, &mut decoded, 6);
    r.compression = DSR_COMPRESSION_GDEFLATE;
    r.uncompressed_size = src.len() as u64;
    r.status_array = a;
    r.status_index = 1;
    r.callback = Some(cb);
    r.user_data = 0x5eed as *mut c_void;
    ok(enqueue(q, &r));
    ok(dsr_queue_enqueue_status(q, a, 2));
    // Nothing runs before submit.
    assert_eq!(dsr_status_array_wait(a, 2, 20_000_000), DSR_RESULT_TIMEOUT);
    ok(dsr_queue_submit(q));
    for slot in 0..3 {
        ok(dsr_status_array_wait(a, slot, DSR_WAIT_INFINITE));
    }
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(TAGS.load(Ordering::SeqCst), 11);
    assert!(raw == src, "raw copy differs");
    assert!(decoded[..src.len()] == src[..], "decoded bytes differ");
    assert!(decoded[src.len()..].iter().all(|&b| b == 0), "written past the output");
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut stats: dsr_queue_stats = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_stats(q, &mut stats) });
    assert_eq!((stats.completed, stats.failed, stats.cancelled), (2, 0, 0));
    assert_eq!(stats.bytes_written, 2 * src.len() as u64);
    assert_eq!(stats.latency_us.iter().sum::<u64>(), 2);
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn status_slots_refuse_idle_out_of_range_and_pending_reuse() {
    let rt = cpu_runtime();
    let q = queue(rt, 4);
    let a = status_array(2);
    assert_eq!(dsr_status_array_get_result(a, 0), DSR_RESULT_INVALID_ARGUMENT);
    assert_eq!(dsr_status_array_wait(a, 0, 0), DSR_RESULT_INVALID_ARGUMENT);
    assert_eq!(dsr_status_array_get_result(a, 2), DSR_RESULT_INVALID_ARGUMENT);
    let mut complete = true;
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { dsr_status_array_is_complete(a, 9, &mut complete) }, DSR_RESULT_INVALID_ARGUMENT);
    let src = bytes(1000, 3);
    let mut dst = vec![0u8; 1000];
    let mut r = memory_request(&src, &mut dst, 0);
    r.status_array = a;
    r.status_index = 0;
    ok(enqueue(q, &r));
    assert_eq!(dsr_status_array_get_result(a, 0), DSR_RESULT_NOT_READY);
    // A second request into the pending slot is refused and not enqueued.
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    assert!(last_error().contains("still pending"), "{}", last_error());
    assert_eq!(dsr_queue_enqueue_status(q, a, 0), DSR_RESULT_INVALID_ARGUMENT);
    // A refused request leaves its slot idle.
    r.status_index = 1;
    r.destination.size = 10;
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    assert_eq!(dsr_status_array_get_result(a, 1), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_queue_drain(q));
    ok(dsr_status_array_get_result(a, 0));
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut stats: dsr_queue_stats = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_stats(q, &mut stats) });
    assert_eq!(stats.completed, 1, "exactly the one accepted request ran");
    // A marker with nothing unfinished completes at once.
    ok(dsr_queue_enqueue_status(q, a, 1));
    ok(dsr_status_array_wait(a, 1, 0));
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn a_full_queue_refuses_try_enqueue_and_blocking_enqueue_waits_for_slots() {
    let rt = cpu_runtime();
    let q = queue(rt, 2);
    let src = bytes(4096, 9);
    let mut dsts = vec![vec![0u8; 4096]; 6];
    let reqs: Vec<_> = dsts.iter_mut().enumerate().map(|(i, d)| memory_request(&src, d, i as u64)).collect();
    // SAFETY: the memory outlives the requests (drained below).
    ok(unsafe { dsr_queue_try_enqueue(q, &reqs[0]) });
    // SAFETY: as above.
    ok(unsafe { dsr_queue_try_enqueue(q, &reqs[1]) });
    // SAFETY: as above.
    assert_eq!(unsafe { dsr_queue_try_enqueue(q, &reqs[2]) }, DSR_RESULT_FULL);
    assert!(last_error().contains("full"), "{}", last_error());
    // The blocking enqueue submits what is enqueued and waits for a slot.
    for r in &reqs[2..] {
        ok(enqueue(q, r));
    }
    ok(dsr_queue_drain(q));
    assert!(dsts.iter().all(|d| *d == src));
    ok(dsr_queue_destroy(q));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn cancel_by_tag_cancels_exactly_the_matching_requests() {
    let rt = cpu_runtime();
    let q = queue(rt, 16);
    let a = status_array(8);
    let src = bytes(10_000, 1);
    let mut dsts = vec![vec![0u8; 10_000]; 6];
    for (i, d) in dsts.iter_mut().enumerate() {
        let mut r = memory_request(&src, d, 0xAB00 | (i as u64 % 2));
        r.status_array = a;
        r.status_index = i as u32;
        ok(enqueue(q, &r));
    }
    let mut matched = 0;
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_cancel(q, 0xFFFF, 0xAB01, &mut matched) });
    assert_eq!(matched, 3);
    ok(dsr_queue_drain(q));
    for i in 0..6 {
        let want = if i % 2 == 1 { DSR_RESULT_CANCELLED } else { DSR_RESULT_OK };
        assert_eq!(dsr_status_array_get_result(a, i), want, "slot {i}");
    }
    assert!(dsts.iter().step_by(2).all(|d| *d == src));
    assert!(dsts.iter().skip(1).step_by(2).all(|d| d.iter().all(|&b| b == 0)), "a cancelled request wrote");
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut stats: dsr_queue_stats = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_stats(q, &mut stats) });
    assert_eq!((stats.completed, stats.cancelled, stats.failed), (3, 3, 0));
    // Cancellations are not failures: the error record is empty.
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut rec: dsr_error_record = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_error_record(q, &mut rec) });
    assert_eq!(rec.failure_count, 0);
    assert!(!rec.has_failure);
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn failures_reach_status_markers_and_the_error_record() {
    let rt = cpu_runtime();
    let q = queue(rt, 8);
    let a = status_array(4);
    let tmp = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(tmp.path(), bytes(1000, 2)).expect("write");
    let path = CString::new(tmp.path().as_os_str().as_encoded_bytes()).expect("path");
    let mut f = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_file_open(path.as_ptr(), &mut f) });
    let mut dst = vec![0u8; 4000];
    // 1. Reading past the end of the file.
    let mut r = memory_request(&[], &mut dst, 0x77);
    r.source = dsr_source { kind: DSR_SOURCE_FILE, file: f, memory: null(), offset: 500, size: 1000 };
    r.name = c"past-the-end".as_ptr();
    r.status_array = a;
    r.status_index = 0;
    ok(enqueue(q, &r));
    // 2. Garbage that claims to be GDeflate.
    let garbage = bytes(2000, 5);
    let mut r = memory_request(&garbage, &mut dst, 0x78);
    r.compression = DSR_COMPRESSION_GDEFLATE;
    r.uncompressed_size = 3000;
    r.name = c"garbage".as_ptr();
    ok(enqueue(q, &r));
    ok(dsr_queue_enqueue_status(q, a, 1));
    ok(dsr_queue_submit(q));
    assert_eq!(dsr_status_array_wait(a, 0, DSR_WAIT_INFINITE), DSR_RESULT_END_OF_FILE);
    let marker = dsr_status_array_wait(a, 1, DSR_WAIT_INFINITE);
    assert!(
        marker == DSR_RESULT_END_OF_FILE || marker == DSR_RESULT_CORRUPT_DATA,
        "the marker reports a covered failure, got {}",
        name(marker)
    );
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut rec: dsr_error_record = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_error_record(q, &mut rec) });
    assert_eq!(rec.failure_count, 2);
    assert!(rec.has_failure);
    // SAFETY: NUL-terminated by `fill_c_array`.
    let first = unsafe { CStr::from_ptr(rec.first_name.as_ptr()) }.to_string_lossy().into_owned();
    match first.as_str() {
        "past-the-end" => assert_eq!((rec.first_result, rec.first_tag), (DSR_RESULT_END_OF_FILE, 0x77)),
        "garbage" => assert_eq!((rec.first_result, rec.first_tag), (DSR_RESULT_CORRUPT_DATA, 0x78)),
        other => panic!("unexpected first failure {other}"),
    }
    // A later marker covers only what came after the previous one: nothing failed since.
    ok(dsr_queue_enqueue_status(q, a, 2));
    ok(dsr_status_array_wait(a, 2, DSR_WAIT_INFINITE));
    ok(dsr_file_destroy(f));
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn destroying_a_queue_cancels_and_completes_its_requests_and_the_runtime_outlives_it() {
    static CANCELLED: AtomicU32 = AtomicU32::new(0);
    unsafe extern "C" fn cb(_: *mut c_void, c: *const dsr_completion) {
        // SAFETY: valid for the call.
        if unsafe { (*c).result } == DSR_RESULT_CANCELLED {
            CANCELLED.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = cpu_runtime();
    let q = queue(rt, 8);
    let a = status_array(4);
    // The queue keeps its runtime alive.
    ok(dsr_runtime_destroy(rt));
    let src = bytes(1000, 4);
    let mut dsts = vec![vec![0u8; 1000]; 3];
    for (i, d) in dsts.iter_mut().enumerate() {
        let mut r = memory_request(&src, d, 1);
        r.status_array = a;
        r.status_index = i as u32;
        r.callback = Some(cb);
        ok(enqueue(q, &r));
    }
    ok(dsr_queue_destroy(q));
    assert_eq!(CANCELLED.load(Ordering::SeqCst), 3);
    for i in 0..3 {
        assert_eq!(dsr_status_array_get_result(a, i), DSR_RESULT_CANCELLED);
    }
    ok(dsr_status_array_destroy(a));
}

#[test]
fn files_open_by_path_and_descriptor_and_missing_files_are_not_found() {
    let mut f = null_mut();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_file_open(c"/nonexistent/dsr/file".as_ptr(), &mut f) }, DSR_RESULT_NOT_FOUND);
    // SAFETY: null path refused.
    assert_eq!(unsafe { dsr_file_open(null(), &mut f) }, DSR_RESULT_INVALID_ARGUMENT);
    // SAFETY: a negative descriptor is refused before use.
    assert_eq!(unsafe { dsr_file_open_fd(-1, &mut f) }, DSR_RESULT_INVALID_ARGUMENT);
    let tmp = tempfile::NamedTempFile::new().expect("tmp");
    let data = bytes(70_000, 8);
    std::fs::write(tmp.path(), &data).expect("write");
    let std_file = std::fs::File::open(tmp.path()).expect("open");
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call.
    ok(unsafe { dsr_file_open_fd(std_file.as_raw_fd(), &mut f) });
    drop(std_file); // the library holds its own duplicate
    let mut size = 0;
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_file_size(f, &mut size) });
    assert_eq!(size, 70_000);
    let rt = cpu_runtime();
    let q = queue(rt, 4);
    let mut dst = vec![0u8; 70_000];
    let mut r = memory_request(&[], &mut dst, 0);
    r.source = dsr_source { kind: DSR_SOURCE_FILE, file: f, memory: null(), offset: 0, size };
    ok(enqueue(q, &r));
    // The file handle may go before its requests finish.
    ok(dsr_file_destroy(f));
    ok(dsr_queue_drain(q));
    assert!(dst == data);
    ok(dsr_queue_destroy(q));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn gpu_destinations_on_a_cpu_runtime_are_unsupported() {
    let rt = cpu_runtime();
    let mut b = null_mut();
    // SAFETY: valid pointers.
    let created = unsafe { dsr_vk_buffer_create(rt, 64, DSR_VK_MEMORY_DEVICE_LOCAL, &mut b) };
    assert_eq!(created, DSR_RESULT_UNSUPPORTED);
    let q = queue(rt, 2);
    let mut semaphore = 0;
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { dsr_queue_get_timeline_semaphore(q, &mut semaphore) }, DSR_RESULT_UNSUPPORTED);
    ok(dsr_queue_destroy(q));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn vulkan_buffer_and_image_destinations_receive_decoded_bytes() {
    let Some(rt) = vulkan_runtime("vulkan destinations") else { return };
    let q = queue(rt, 8);
    let a = status_array(4);
    // A 64x32 RGBA8 image region: 8192 bytes.
    let src = bytes(8192, 11);
    let stream = dsr_gdeflate::compress(&src, dsr_gdeflate::Level::DEFAULT, 0).expect("compress");
    let mut b = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_vk_buffer_create(rt, 8192, DSR_VK_MEMORY_READBACK, &mut b) });
    let desc = dsr_vk_image_desc {
        format: 37, /* VK_FORMAT_R8G8B8A8_UNORM */
        width: 64,
        height: 64,
        depth: 1,
        mip_levels: 1,
        array_layers: 1,
    };
    let mut img = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_vk_image_create(rt, &desc, &mut img) });
    let region = dsr_image_region {
        layer_count: 1,
        x: 0,
        y: 32,
        width: 64,
        height: 32,
        depth: 1,
        ..Default::default()
    };
    let mut dummy = [0u8; 0];
    let mut r = memory_request(&stream, &mut dummy, 1);
    r.compression = DSR_COMPRESSION_GDEFLATE;
    r.uncompressed_size = src.len() as u64;
    r.destination =
        dsr_destination { kind: DSR_DESTINATION_VK_BUFFER, buffer: b, offset: 0, ..r.destination };
    r.status_array = a;
    r.status_index = 0;
    ok(enqueue(q, &r));
    r.destination = dsr_destination { kind: DSR_DESTINATION_VK_IMAGE, image: img, region, ..r.destination };
    r.status_index = 1;
    ok(enqueue(q, &r));
    // A region of the wrong size is refused at enqueue.
    r.destination.region.height = 16;
    r.status_array = null();
    assert_eq!(enqueue(q, &r), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_queue_submit(q));
    ok(dsr_status_array_wait(a, 0, DSR_WAIT_INFINITE));
    ok(dsr_status_array_wait(a, 1, DSR_WAIT_INFINITE));
    let (mut semaphore, mut value, mut queue_semaphore) = (0, 0, 0);
    // SAFETY: valid out pointers.
    ok(unsafe { dsr_status_array_get_timeline(a, 1, &mut semaphore, &mut value) });
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_queue_get_timeline_semaphore(q, &mut queue_semaphore) });
    assert!(semaphore != 0 && semaphore == queue_semaphore && value > 0);
    let mut out = vec![0u8; 8192];
    // SAFETY: `out` holds 8192 bytes.
    ok(unsafe { dsr_vk_buffer_read(b, 0, out.as_mut_ptr().cast(), 8192) });
    assert!(out == src, "buffer bytes differ");
    out.fill(0);
    // SAFETY: valid region; `out` holds its 8192 bytes.
    ok(unsafe { dsr_vk_image_read(img, &region, out.as_mut_ptr().cast(), 8192) });
    assert!(out == src, "image texels differ");
    let (mut handle, mut size) = (0, 0);
    // SAFETY: valid out pointers.
    ok(unsafe { dsr_vk_buffer_get_handle(b, &mut handle, &mut size) });
    assert!(handle != 0 && size == 8192);
    // Destroying the runtime first is fine: buffers, images and queues keep it alive.
    ok(dsr_runtime_destroy(rt));
    ok(dsr_vk_buffer_destroy(b));
    ok(dsr_vk_image_destroy(img));
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
}

#[test]
fn a_host_request_has_no_timeline_value_and_says_why() {
    let Some(rt) = vulkan_runtime("timeline of host requests") else { return };
    let q = queue(rt, 4);
    let a = status_array(1);
    let src = bytes(100, 1);
    let mut dst = vec![0u8; 100];
    let mut r = memory_request(&src, &mut dst, 0);
    r.status_array = a;
    ok(enqueue(q, &r));
    let (mut s, mut v) = (0, 0);
    // SAFETY: valid out pointers.
    assert_eq!(unsafe { dsr_status_array_get_timeline(a, 0, &mut s, &mut v) }, DSR_RESULT_NOT_READY);
    assert!(last_error().contains("host destination"), "{}", last_error());
    ok(dsr_queue_drain(q));
    // SAFETY: valid out pointers.
    ok(unsafe { dsr_status_array_get_timeline(a, 0, &mut s, &mut v) });
    assert_eq!(v, 0, "no GPU work");
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

/// An application's own Vulkan instance and device (as vkd3d-proton would have), for adoption.
struct AppDevice {
    entry: ash::Entry,
    instance: ash::Instance,
    physical_device: ash::vk::PhysicalDevice,
    device: ash::Device,
    family: u32,
}

impl AppDevice {
    fn new() -> Option<Self> {
        use ash::vk;
        let picked =
            dsr_core::vulkan::probe().ok().and_then(|d| dsr_core::vulkan::pick_device(&d).map(|d| d.index));
        let Some(picked) = picked else {
            assert!(!require_gpu(), "DSR_REQUIRE_GPU=1 but no usable Vulkan device");
            eprintln!("NOTICE: adoption skipped: no usable Vulkan device");
            return None;
        };
        // SAFETY: dlopen of the system Vulkan loader; `entry` outlives every use (a field).
        let entry = unsafe { ash::Entry::load() }.expect("the Vulkan loader (probe found a device)");
        let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_2);
        let info = vk::InstanceCreateInfo::default().application_info(&app);
        // SAFETY: valid create info; destroyed in Drop.
        let instance = unsafe { entry.create_instance(&info, None) }.expect("vkCreateInstance");
        // SAFETY: valid instance.
        let physical_device = unsafe { instance.enumerate_physical_devices() }.expect("devices")[picked];
        // SAFETY: the physical device belongs to the instance.
        let families = unsafe { instance.get_physical_device_queue_family_properties(physical_device) };
        let family =
            families.iter().position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE)).expect("compute");
        let priorities = [1.0];
        let queues = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(family as u32)
            .queue_priorities(&priorities)];
        let mut v12 = vk::PhysicalDeviceVulkan12Features::default().timeline_semaphore(true);
        let create = vk::DeviceCreateInfo::default().queue_create_infos(&queues).push_next(&mut v12);
        // SAFETY: the picked device supports Vulkan 1.2 and timeline semaphores; destroyed in Drop.
        let device =
            unsafe { instance.create_device(physical_device, &create, None) }.expect("vkCreateDevice");
        Some(Self { entry, instance, physical_device, device, family: family as u32 })
    }
}

impl Drop for AppDevice {
    fn drop(&mut self) {
        // SAFETY: every runtime adopting the device, and its objects, are gone by now.
        unsafe { self.device.destroy_device(None) };
        // SAFETY: its only device was destroyed just above.
        unsafe { self.instance.destroy_instance(None) };
    }
}

#[test]
fn an_adopted_application_device_runs_gpu_requests_and_is_not_destroyed() {
    use ash::vk::Handle;
    let Some(app) = AppDevice::new() else { return };
    let gipa = app.entry.static_fn().get_instance_proc_addr;
    // SAFETY: `PFN_vkGetInstanceProcAddr` has the C signature `dsr_vk_get_instance_proc_addr`
    // declares (see `runtime::adopt`).
    let gipa = unsafe {
        std::mem::transmute::<
            ash::vk::PFN_vkGetInstanceProcAddr,
            unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void,
        >(gipa)
    };
    let mut adopt = dsr_vk_adopt_desc {
        instance: app.instance.handle().as_raw() as *mut c_void,
        physical_device: app.physical_device.as_raw() as *mut c_void,
        device: app.device.handle().as_raw() as *mut c_void,
        queue_family_index: app.family,
        queue_index: 0,
        enabled_features: 0,
        get_instance_proc_addr: Some(gipa),
    };
    let mut desc = dsr_runtime_desc {
        backend: DSR_BACKEND_VULKAN,
        io: DSR_IO_AUTO,
        flags: 0,
        io_depth: 0,
        cpu_threads: 2,
        staging_bytes: 8 << 20,
        chunk_bytes: 1 << 20,
        adopt: &adopt,
    };
    let mut rt = null_mut();
    // Without timeline semaphores declared, adoption is refused.
    // SAFETY: valid handles owned by `app`, which outlives the runtime.
    assert_eq!(unsafe { dsr_runtime_create(&desc, &mut rt) }, DSR_RESULT_UNSUPPORTED);
    adopt.enabled_features = DSR_VK_FEATURE_TIMELINE_SEMAPHORE;
    desc.adopt = &adopt;
    // Adoption needs the Vulkan backend.
    desc.backend = DSR_BACKEND_CPU;
    // SAFETY: as above.
    assert_eq!(unsafe { dsr_runtime_create(&desc, &mut rt) }, DSR_RESULT_INVALID_ARGUMENT);
    desc.backend = DSR_BACKEND_VULKAN;
    // SAFETY: as above.
    ok(unsafe { dsr_runtime_create(&desc, &mut rt) });
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut info: dsr_runtime_info = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_runtime_get_info(rt, &mut info) });
    assert!(info.adopted_device);
    assert_eq!(info.vk_device as u64, app.device.handle().as_raw());
    let q = queue(rt, 4);
    let a = status_array(1);
    let src = bytes(100_000, 3);
    let stream = dsr_gdeflate::compress(&src, dsr_gdeflate::Level::DEFAULT, 0).expect("compress");
    let mut b = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_vk_buffer_create(rt, 100_000, DSR_VK_MEMORY_READBACK, &mut b) });
    let mut none = [0u8; 0];
    let mut r = memory_request(&stream, &mut none, 0);
    r.compression = DSR_COMPRESSION_GDEFLATE;
    r.uncompressed_size = src.len() as u64;
    r.destination =
        dsr_destination { kind: DSR_DESTINATION_VK_BUFFER, buffer: b, offset: 0, ..r.destination };
    r.status_array = a;
    ok(enqueue(q, &r));
    ok(dsr_queue_submit(q));
    ok(dsr_status_array_wait(a, 0, DSR_WAIT_INFINITE));
    // The application's own queue use goes through the runtime's queue lock.
    static RAN: AtomicU32 = AtomicU32::new(0);
    unsafe extern "C" fn locked(_: *mut c_void) {
        RAN.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: `locked` is a valid function that does not call into the runtime.
    ok(unsafe { dsr_runtime_with_vk_queue_lock(rt, Some(locked), null_mut()) });
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
    let mut out = vec![0u8; 100_000];
    // SAFETY: `out` holds 100 000 bytes.
    ok(unsafe { dsr_vk_buffer_read(b, 0, out.as_mut_ptr().cast(), 100_000) });
    assert!(out == src, "decoded bytes differ");
    ok(dsr_vk_buffer_destroy(b));
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
    // The application's device is still alive and usable.
    // SAFETY: the device is valid (the runtime never destroys adopted devices).
    unsafe { app.device.device_wait_idle() }.expect("the adopted device survives the runtime");
}

#[test]
fn a_marker_reports_only_the_requests_since_the_previous_marker() {
    let rt = cpu_runtime();
    let q = queue(rt, 8);
    let a = status_array(2);
    let garbage = bytes(2000, 5);
    let good = bytes(5000, 6);
    let mut d1 = vec![0u8; 4000];
    let mut d2 = vec![0u8; 5000];
    let mut bad = memory_request(&garbage, &mut d1, 1);
    bad.compression = DSR_COMPRESSION_GDEFLATE;
    bad.uncompressed_size = 4000;
    ok(enqueue(q, &bad));
    ok(dsr_queue_enqueue_status(q, a, 0));
    ok(enqueue(q, &memory_request(&good, &mut d2, 2)));
    // Waits for the bad request too (it is unfinished), but does not report it.
    ok(dsr_queue_enqueue_status(q, a, 1));
    ok(dsr_queue_submit(q));
    assert_eq!(dsr_status_array_wait(a, 0, DSR_WAIT_INFINITE), DSR_RESULT_CORRUPT_DATA);
    ok(dsr_status_array_wait(a, 1, DSR_WAIT_INFINITE));
    assert!(d2 == good);
    ok(dsr_queue_destroy(q));
    ok(dsr_status_array_destroy(a));
    ok(dsr_runtime_destroy(rt));
}

#[test]
fn the_codec_functions_round_trip_and_refuse_bad_buffers() {
    let data = bytes(200_000, 12);
    let mut bound = 0;
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_gdeflate_compress_bound(data.len() as u64, &mut bound) });
    let mut stream = vec![0u8; bound as usize];
    let mut size = 0;
    // Too small a destination: FULL, the needed size reported, nothing written.
    // SAFETY: `data` and `stream` are valid for their sizes; 10 ≤ stream.len().
    let small = unsafe {
        dsr_gdeflate_compress(
            data.as_ptr().cast(),
            data.len() as u64,
            9,
            0,
            stream.as_mut_ptr().cast(),
            10,
            &mut size,
        )
    };
    assert_eq!(small, DSR_RESULT_FULL);
    assert!(size > 10 && size <= bound);
    assert!(stream.iter().all(|&b| b == 0));
    // SAFETY: as above, with the whole bound.
    ok(unsafe {
        dsr_gdeflate_compress(
            data.as_ptr().cast(),
            data.len() as u64,
            9,
            0,
            stream.as_mut_ptr().cast(),
            bound,
            &mut size,
        )
    });
    stream.truncate(size as usize);
    assert!(dsr_gdeflate::decompress(&stream, 1).expect("valid stream") == data);
    let mut stated = 0;
    // SAFETY: `stream` is valid for its size.
    ok(unsafe { dsr_gdeflate_uncompressed_size(stream.as_ptr().cast(), size, &mut stated) });
    assert_eq!(stated, data.len() as u64);
    let mut out = vec![0u8; data.len()];
    // SAFETY: both buffers valid for their sizes.
    ok(unsafe {
        dsr_gdeflate_decompress(stream.as_ptr().cast(), size, 0, out.as_mut_ptr().cast(), data.len() as u64)
    });
    assert!(out == data);
    // The wrong output size and truncated data are corrupt data, not crashes.
    // SAFETY: as above (a shorter prefix of `out`).
    let wrong =
        unsafe { dsr_gdeflate_decompress(stream.as_ptr().cast(), size, 0, out.as_mut_ptr().cast(), 1000) };
    assert_eq!(wrong, DSR_RESULT_CORRUPT_DATA);
    // SAFETY: a prefix of `stream`.
    let cut = unsafe { dsr_gdeflate_uncompressed_size(stream.as_ptr().cast(), size / 2, &mut stated) };
    assert_eq!(cut, DSR_RESULT_CORRUPT_DATA);
    // SAFETY: null refused before use.
    let null = unsafe { dsr_gdeflate_compress(null(), 5, 9, 0, null_mut(), 0, &mut size) };
    assert_eq!(null, DSR_RESULT_INVALID_ARGUMENT);
    // SAFETY: valid pointers; level 13 is refused.
    let level = unsafe { dsr_gdeflate_compress(data.as_ptr().cast(), 10, 13, 0, null_mut(), 0, &mut size) };
    assert_eq!(level, DSR_RESULT_INVALID_ARGUMENT);
}

/// Aborts the test process if `f` does not finish within `secs` (a deadlock must fail CI,
/// not hang it).
fn within<T>(secs: u64, what: &'static str, f: impl FnOnce() -> T) -> T {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !flag.load(Ordering::SeqCst) {
            if start.elapsed().as_secs() > secs {
                eprintln!("{what}: still running after {secs} s (deadlock?)");
                std::process::abort();
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let r = f();
    done.store(true, Ordering::SeqCst);
    r
}

#[test]
fn concurrent_enqueuers_get_every_status_and_callback_exactly_once() {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    unsafe extern "C" fn cb(_: *mut c_void, c: *const dsr_completion) {
        // SAFETY: valid for the call.
        assert_eq!(unsafe { (*c).result }, DSR_RESULT_OK);
        CALLS.fetch_add(1, Ordering::SeqCst);
    }
    const THREADS: usize = 4;
    const PER_THREAD: usize = 150;
    within(120, "concurrent enqueuers", || {
        let rt = cpu_runtime();
        let q = queue(rt, 16) as usize;
        let a = status_array((THREADS * PER_THREAD) as u32) as usize;
        let src = std::sync::Arc::new(bytes(3000, 2));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let src = std::sync::Arc::clone(&src);
                std::thread::spawn(move || {
                    let mut dsts = vec![vec![0u8; 3000]; PER_THREAD];
                    for (i, d) in dsts.iter_mut().enumerate() {
                        let mut r = memory_request(&src, d, t as u64);
                        r.status_array = a as *const dsr_status_array;
                        r.status_index = (t * PER_THREAD + i) as u32;
                        r.callback = Some(cb);
                        ok(enqueue(q as *mut dsr_queue, &r));
                        if i % 10 == 9 {
                            ok(dsr_queue_submit(q as *const dsr_queue));
                        }
                    }
                    ok(dsr_queue_drain(q as *const dsr_queue));
                    for i in 0..PER_THREAD {
                        ok(dsr_status_array_get_result(
                            a as *const dsr_status_array,
                            (t * PER_THREAD + i) as u32,
                        ));
                    }
                    assert!(dsts.iter().all(|d| **d == **src));
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker");
        }
        assert_eq!(CALLS.load(Ordering::SeqCst), (THREADS * PER_THREAD) as u32);
        ok(dsr_queue_destroy(q as *mut dsr_queue));
        ok(dsr_status_array_destroy(a as *mut dsr_status_array));
        ok(dsr_runtime_destroy(rt));
    });
}

#[test]
fn destroying_queues_while_their_requests_complete_never_deadlocks() {
    within(120, "destroy during completion", || {
        let rt = cpu_runtime();
        let src = bytes(20_000, 3);
        for round in 0..30 {
            let q = queue(rt, 64);
            let a = status_array(40);
            let mut dsts = vec![vec![0u8; 20_000]; 40];
            for (i, d) in dsts.iter_mut().enumerate() {
                let mut r = memory_request(&src, d, 0);
                r.status_array = a;
                r.status_index = i as u32;
                ok(enqueue(q, &r));
            }
            ok(dsr_queue_submit(q));
            if round % 2 == 1 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            ok(dsr_queue_destroy(q));
            // Destroy completed every request: done or cancelled, nothing pending.
            for i in 0..40 {
                let r = dsr_status_array_wait(a, i, 10_000_000_000);
                assert!(r == DSR_RESULT_OK || r == DSR_RESULT_CANCELLED, "slot {i}: {}", name(r));
                if r == DSR_RESULT_OK {
                    assert!(dsts[i as usize] == src);
                }
            }
            ok(dsr_status_array_destroy(a));
        }
        ok(dsr_runtime_destroy(rt));
    });
}

#[test]
fn pack_entries_stream_through_a_queue_and_verify() {
    use dsr_core::pack::{EntryCompression, PackOptions, PackWriter};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("assets.dsp");
    let texture = bytes(150_000, 1);
    let header = b"plain header bytes".to_vec();
    let mut w = PackWriter::create(&path, PackOptions::default()).expect("create pack");
    w.add_with("textures/a.bin", &texture, EntryCompression::GDeflate).expect("add");
    w.add_with("meta/header.txt", &header, EntryCompression::None).expect("add");
    w.finish().expect("finish");
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    let mut pack = null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { dsr_pack_open(cpath.as_ptr(), &mut pack) });
    let mut n = 0;
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_pack_entry_count(pack, &mut n) });
    assert_eq!(n, 2);
    let mut file = null_mut();
    // SAFETY: valid out pointer.
    ok(unsafe { dsr_pack_get_file(pack, &mut file) });
    let rt = cpu_runtime();
    let q = queue(rt, 4);
    for (name, want, compression) in [
        (c"textures/a.bin", &texture, DSR_COMPRESSION_GDEFLATE),
        (c"meta/header.txt", &header, DSR_COMPRESSION_NONE),
    ] {
        let mut index = 0;
        // SAFETY: valid pointers.
        ok(unsafe { dsr_pack_find(pack, name.as_ptr(), &mut index) });
        // SAFETY: all-zero is a valid value of this plain-data struct (null name pointer).
        let mut e: dsr_pack_entry = unsafe { std::mem::zeroed() };
        // SAFETY: valid out pointer.
        ok(unsafe { dsr_pack_get_entry(pack, index, &mut e) });
        // SAFETY: the name points into the live pack.
        assert_eq!(unsafe { CStr::from_ptr(e.name) }, name);
        assert_eq!((e.compression, e.uncompressed_size), (compression, want.len() as u64));
        let mut out = vec![0u8; e.uncompressed_size as usize];
        let mut r = memory_request(&[], &mut out, 0);
        r.source =
            dsr_source { kind: DSR_SOURCE_FILE, file, memory: null(), offset: e.offset, size: e.stored_size };
        r.compression = e.compression;
        r.uncompressed_size = e.uncompressed_size;
        ok(enqueue(q, &r));
        ok(dsr_queue_drain(q));
        assert!(out == **want);
        // SAFETY: `out` is valid for its size.
        ok(unsafe { dsr_pack_verify_entry(pack, index, out.as_ptr().cast(), out.len() as u64) });
        out[0] ^= 1;
        // SAFETY: as above.
        let bad = unsafe { dsr_pack_verify_entry(pack, index, out.as_ptr().cast(), out.len() as u64) };
        assert_eq!(bad, DSR_RESULT_CORRUPT_DATA);
    }
    let mut index = 0;
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_pack_find(pack, c"nope".as_ptr(), &mut index) }, DSR_RESULT_NOT_FOUND);
    // SAFETY: all-zero is a valid value of this plain-data struct.
    let mut e: dsr_pack_entry = unsafe { std::mem::zeroed() };
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { dsr_pack_get_entry(pack, 2, &mut e) }, DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_pack_destroy(pack));
    assert_eq!(dsr_pack_destroy(pack), DSR_RESULT_INVALID_ARGUMENT);
    ok(dsr_file_destroy(file));
    ok(dsr_queue_destroy(q));
    ok(dsr_runtime_destroy(rt));
    // Not a pack, a truncated pack, no file.
    let mut not_pack = null_mut();
    std::fs::write(dir.path().join("x.dsp"), b"definitely not a pack, just some bytes").expect("write");
    let x = CString::new(dir.path().join("x.dsp").as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_pack_open(x.as_ptr(), &mut not_pack) }, DSR_RESULT_CORRUPT_DATA);
    let full = std::fs::read(&path).expect("read");
    std::fs::write(&path, &full[..full.len() - 7]).expect("truncate");
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_pack_open(cpath.as_ptr(), &mut not_pack) }, DSR_RESULT_CORRUPT_DATA);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { dsr_pack_open(c"/nonexistent/x.dsp".as_ptr(), &mut not_pack) }, DSR_RESULT_NOT_FOUND);
}

/// `(type, field)` → Rust offset, and the type sizes, for every struct of the header.
macro_rules! layout {
    ($($ty:ident { $($field:ident),* })*) => {{
        let mut v: Vec<(String, usize)> = Vec::new();
        $(
            v.push((format!("sizeof({})", stringify!($ty)), std::mem::size_of::<$ty>()));
            $(v.push((format!("offsetof({}, {})", stringify!($ty), stringify!($field)), std::mem::offset_of!($ty, $field)));)*
        )*
        v
    }};
}

#[test]
fn c_struct_layouts_match_rust() {
    let rust = layout! {
        dsr_version { abi_major, abi_minor, major, minor, patch }
        dsr_queue_desc { capacity, priority, name }
        dsr_source { kind, file, memory, offset, size }
        dsr_image_region { mip_level, array_layer, layer_count, x, y, z, width, height, depth }
        dsr_destination { kind, memory, size, buffer, offset, image, region }
        dsr_completion { tag, result, name, message }
        dsr_request { source, destination, compression, uncompressed_size, tag, name, status_array, status_index, callback, user_data }
        dsr_error_record { failure_count, has_failure, first_result, first_tag, first_name, first_request, first_message }
        dsr_queue_stats { completed, failed, cancelled, bytes_read, bytes_written, in_progress, latency_us }
        dsr_vk_adopt_desc { instance, physical_device, device, queue_family_index, queue_index, enabled_features, get_instance_proc_addr }
        dsr_runtime_desc { backend, io, flags, io_depth, cpu_threads, staging_bytes, chunk_bytes, adopt }
        dsr_runtime_info { backend, io, staging, fixed_buffers, adopted_device, chunk_bytes, chunks, vk_queue_family_index, vk_device, device_name }
        dsr_capabilities_info { abi_major, abi_minor, flags, vulkan_device_name, vulkan_unavailable_reason }
        dsr_vk_image_desc { format, width, height, depth, mip_levels, array_layers }
        dsr_pack_entry { name, offset, stored_size, uncompressed_size, compression, sha256 }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = String::from("#include <ds_runtime.h>\n#include <stdio.h>\nint main(void) {\n");
    for (expr, _) in &rust {
        c.push_str(&format!("    printf(\"%zu\\n\", (size_t){expr});\n"));
    }
    c.push_str("    return 0;\n}\n");
    let src = dir.path().join("layout.c");
    std::fs::write(&src, c).expect("write");
    let exe = dir.path().join("layout");
    let include = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let status = std::process::Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("cc");
    assert!(status.success(), "the layout probe does not compile");
    let out = std::process::Command::new(&exe).output().expect("run the layout probe");
    let c_values: Vec<usize> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.parse().expect("number")).collect();
    assert_eq!(c_values.len(), rust.len());
    for ((expr, r), c) in rust.iter().zip(c_values) {
        assert_eq!(*r, c, "{expr}: Rust {r}, C {c}");
    }
}
