//! Text → `Config::from_toml_str`: any document is either a checked configuration or an error
//! naming what is wrong; nothing may panic.

#![no_main]

use ledgerpost_domain::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::from_toml_str(text) {
        Ok(config) => assert!(!config.administrations.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
