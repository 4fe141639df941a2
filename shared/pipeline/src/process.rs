//! What every ledgerpost process (the Lambda functions, the `ledgerpost` command) sets up once
//! at start, before it reads any invoice.

/// Allocations from this size on get pages of their own, given back to the system when freed.
const MMAP_THRESHOLD: usize = 256 * 1024;

/// Keeps a long-lived process's memory at what one invoice needs, however many it reads.
///
/// glibc's allocator raises its mmap threshold each time a large block is freed, so after the
/// first large invoice the big arrays (the document's nodes, the rules' per-element tables) come
/// from the heap and stay there, fragmented: a warm Lambda that read a 30,000-line invoice three
/// times held 187 MB, against 151 MB after one. A fixed threshold turns that adjustment off.
/// Elsewhere than glibc this does nothing.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = libc::c_int::try_from(MMAP_THRESHOLD).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes a tuning parameter of the allocator; it is called before
        // the process does its work, and a refusal (return 0) leaves glibc's default in force.
        let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
    }
}
