//! Unit tests of matching, manual processing, suggestions and the journal, built on
//! [`crate::testkit`].

mod journal;
mod manual;
mod matching;
mod matching_reference;
mod suggest;
