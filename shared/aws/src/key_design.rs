//! # The single-table key design, as it lands in DynamoDB
//!
//! Every item of ledgerpost lives in one table (DynamoDB on AWS, SQLite on one machine, both
//! behind the store port). The items are written by `ledgerpost-pipeline`'s `repository`
//! module, whose documentation is the authority on them; this page mirrors it from the
//! DynamoDB side, so that whoever reads the table, the template or a bill sees what is where.
//! **Change both together.**
//!
//! ## Physical layout
//!
//! | attribute | type | |
//! | --- | --- | --- |
//! | `pk` (HASH), `sk` (RANGE) | S | the table key |
//! | `version` | N | 1 on creation, +1 on each write; every write is conditional on it |
//! | `body` | S | the record as one JSON string (exact decimal text, size as the port counts it) |
//! | `gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`, `gsi3pk`/`gsi3sk` | S | present only on items in that index |
//!
//! Indexes `gsi1`, `gsi2`, `gsi3`: sparse, projection ALL, read eventually consistently. The
//! table is on-demand with point-in-time recovery (infra/template.yaml).
//!
//! Key parts are joined with `#`; every part that comes from a document (order numbers,
//! references, supplier keys, line ids) is escaped (`%` → `%25`, `#` → `%23`) so that `#` only
//! ever separates parts and a prefix query never reaches into a neighbouring id.
//!
//! ## Items
//!
//! | item | `pk` | `sk` | `gsi1pk` / `gsi1sk` | `gsi2pk` / `gsi2sk` |
//! | --- | --- | --- | --- | --- |
//! | invoice or credit note (status, findings, document keys) | `INV#<id>` | `META` | `SEND#<adm>#<journal>#<send state>` / `<issue date>#<id>`, once journaled | `STATUS#<adm>#<status>` / `<issue date>#<id>` |
//! | the document as read, without lines (written once) | `INV#<id>` | `HEADER` | | |
//! | its lines, split in chunks of at most 300 KB of JSON | `INV#<id>` | `LINES#<nnnn>` | | |
//! | its matching result per line, one generation per change | `INV#<id>` | `MATCH#<gen>#<nnnn>` | | |
//! | its journal entry (chunked when large) | `INV#<id>` | `ENTRY`, `ENTRY#<nnnn>` | | |
//! | file seen (duplicate content) | `FILE#<sha256>` | `FILE` | | |
//! | rejected file (key under rejected/, reason) | `REJECTED#<id>` | `REJECTED` | `REJECTED#UNREPORTED` / `<at>#<id>` until a report lists it | |
//! | goods receipt line (master data) | `RECEIPT#<adm>#<order>#<line>` | `RECEIPT` | `ORDER#<adm>#<order>` / `RECEIPT#<line>` | |
//! | obligation / purchase commitment (master data) | `OBLIGATION#<adm>#<ref>#<supplier>` | `OBLIGATION` | `ORDER#<adm>#<ref>` / `OBLIGATION#<supplier>` | `SUPPLIER#<adm>#<supplier>` / `OBLIGATION#<ref>` |
//! | free-text matching rule (master data) | `RULE#<adm>#<supplier>#<hash of text>` | `RULE` | | `SUPPLIER#<adm>#<supplier>` / `RULE#<hash>` |
//! | UBL order (prices for receipt advices) | `ORDER#<adm>#<order>` | `ORDER` | | |
//! | e-mail batch | `BATCH#<id>` | `BATCH` | `BATCHES#<state>` / `<claimed at>#<id>` while claimed or in doubt | |
//! | send-batch run and its report | `RUN#<id>` | `RUN` | `RUNS` / `<started at>#<id>` | |
//! | send lease (`StoreLease`) | `LEASE#send-batch` | `LEASE` | | |
//!
//! The invoice id is derived from administration, supplier, number and issue year, so the
//! same invoice always lands on the same key: the duplicate check is a GetItem on `INV#<id>`
//! plus one on `FILE#<sha256>`. All items of one invoice share its partition, so one
//! strongly consistent Query (`pk = INV#<id>`, by sort-key prefix) reads the invoice, its
//! lines, its matching and its entry; every item stays under DynamoDB's 400 KB because lines
//! and entries are chunked.
//!
//! ## The three indexes
//!
//! The design names three access paths by index; the pipeline overloads the first two with
//! distinct partition-key tags, which DynamoDB keeps apart exactly as separate indexes would:
//!
//! | access path | index and partition key | read by |
//! | --- | --- | --- |
//! | (administration, order reference) | `gsi1`, `ORDER#<adm>#<order ref>`, sort key prefix `RECEIPT#` or `OBLIGATION#` | match-lines: receipt lines and obligations of an order |
//! | (administration, supplier) | `gsi2`, `SUPPLIER#<adm>#<supplier>`, prefix `RULE#` or `OBLIGATION#` | match-lines: the supplier's free-text rules |
//! | (administration, journal, send state) | `gsi1`, `SEND#<adm>#<journal>#ready`, in issue-date order | send-batch: what may be sent, oldest first, so the delay cut-off ends the query early |
//! | report lists | `gsi1` `REJECTED#UNREPORTED`, `BATCHES#claimed`, `RUNS`; `gsi2` `STATUS#<adm>#<status>` | send-batch's report, status |
//!
//! `gsi3` is provisioned (the store port offers three indexes) but no item uses it yet: it is
//! free for moving the send-state path to an index of its own should `gsi1` ever get hot.
//!
//! Every read on a hot path is a GetItem or a Query; **there is no Scan** in the adapter or the
//! roles (the template grants no `dynamodb:Scan`). An index finds candidates; the stage then
//! reads the item itself, strongly consistent, and writes conditionally on its version.
