//! What every ledgerpost process (the Lambda functions, the `ledgerpost` command) sets up once
//! at start, before it reads any invoice.

/// Allocations from this size on get pages of their own, given back to the system when freed:
/// the arrays of a large invoice (its text, its nodes), not the many smaller ones reused from one
/// invoice to the next. Measured on the 30,000-line invoice, three passes: 256 KB kept 151 MB but
/// cost 10 % more time (the pages are fresh, so faulted in, every pass); 4 MB kept 151 MB at no
/// cost; 16 MB kept 168 MB.
const MMAP_THRESHOLD: usize = 4 * 1024 * 1024;

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
