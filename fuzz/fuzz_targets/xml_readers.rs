//! Bytes → both XML readers: the fast one (plain e-invoice XML read straight from the text) and
//! the general one on quick-xml. Where the fast reader reads a file it must build exactly the
//! general reader's tree, it must never accept what the general one refuses, and the public
//! `parse` must answer as the general reader does, tree or error.

#![no_main]

use ledgerpost_ubl::xml::Limits;
use ledgerpost_ubl::xml::differential;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits, so that the size and depth checks are reached as well.
    let limits = Limits { max_bytes: 256 * 1024, max_depth: 64 };
    if let Err(disagreement) = differential::check(data, &limits) {
        panic!("{disagreement}");
    }
});
