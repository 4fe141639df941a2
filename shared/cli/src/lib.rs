//! The `ledgerpost` command's subcommands, kept in a library so they are tested like any code.

pub mod validate;
