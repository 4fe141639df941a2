//! The `ledgerpost` command's subcommands, kept in a library so they are tested like any code.
//!
//! - [`validate`]: check files against the official rules, nothing stored.
//! - [`local`]: a working folder on one machine (configuration, local adapters).
//! - [`pipeline`]: `run`, `send`, `status`, `import` and the manual actions on a working folder.
//! - [`demo`]: a ready-made working folder run end to end.

pub mod demo;
pub mod local;
pub mod pipeline;
pub mod validate;
