//! Several files in one ZIP archive, for an export that sends a batch's documents as one
//! attachment.
//!
//! Written with the `zip` crate, default features off and only the deflate method through
//! flate2 on the pure-Rust zlib-rs back end (`deflate-flate2-zlib-rs`; the `deflate` feature
//! would add zopfli, which only serves compression levels above 9). No encryption, no other
//! methods, no `time` crate.
//!
//! The archive is deterministic: entries keep the given order, names are made safe and unique
//! ([`UniqueNames`]: `invoice.pdf`, `invoice-2.pdf`), every entry has the same timestamp (given,
//! or the ZIP epoch 1980-01-01 00:00:00), Unix permissions 0644 and no extra fields. The same
//! files always give the same bytes.

use std::io::{Cursor, Write};

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, DateTime, System, ZipWriter};
use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::names::UniqueNames;

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("cannot add {name:?} to the ZIP archive")]
    Entry {
        name: String,
        #[source]
        source: ::zip::result::ZipError,
    },
    #[error("cannot write {name:?} into the ZIP archive")]
    Write {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot finish the ZIP archive")]
    Finish(#[source] ::zip::result::ZipError),
}

/// A finished archive and the names its entries got, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zipped {
    pub bytes: Vec<u8>,
    pub names: Vec<String>,
}

/// Zips `files` (name, content) in order, every entry dated 1980-01-01 00:00:00.
pub fn zip_files<N, B>(files: impl IntoIterator<Item = (N, B)>) -> Result<Zipped, ZipError>
where
    N: AsRef<str>,
    B: AsRef<[u8]>,
{
    write(files, DateTime::default())
}

/// Zips `files` (name, content) in order, every entry dated `modified` (local time as ZIP
/// stores it; clamped to the years 1980 to 2107 that ZIP can express, seconds rounded down to
/// even).
pub fn zip_files_at<N, B>(
    files: impl IntoIterator<Item = (N, B)>,
    modified: NaiveDateTime,
) -> Result<Zipped, ZipError>
where
    N: AsRef<str>,
    B: AsRef<[u8]>,
{
    write(files, zip_time(modified))
}

fn zip_time(t: NaiveDateTime) -> DateTime {
    let clamp = |v: u32, max: u32| u8::try_from(v.min(max)).unwrap_or(0);
    match u16::try_from(t.year()) {
        Ok(year) if (1980..=2107).contains(&year) => DateTime::from_date_and_time(
            year,
            clamp(t.month(), 12),
            clamp(t.day(), 31),
            clamp(t.hour(), 23),
            clamp(t.minute(), 59),
            clamp(t.second(), 58),
        )
        .unwrap_or_default(),
        Ok(year) if year > 2107 => DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58).unwrap_or_default(),
        _ => DateTime::default(),
    }
}

fn write<N, B>(files: impl IntoIterator<Item = (N, B)>, modified: DateTime) -> Result<Zipped, ZipError>
where
    N: AsRef<str>,
    B: AsRef<[u8]>,
{
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(modified)
        .system(System::Unix)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut unique = UniqueNames::new();
    let mut names = Vec::new();
    for (i, (name, bytes)) in files.into_iter().enumerate() {
        let name = unique.take(name.as_ref(), &format!("file-{}", i + 1));
        let bytes = bytes.as_ref();
        let options = options.large_file(bytes.len() as u64 >= u64::from(u32::MAX));
        zip.start_file(name.as_str(), options)
            .map_err(|source| ZipError::Entry { name: name.clone(), source })?;
        zip.write_all(bytes).map_err(|source| ZipError::Write { name: name.clone(), source })?;
        names.push(name);
    }
    let bytes = zip.finish().map_err(ZipError::Finish)?.into_inner();
    Ok(Zipped { bytes, names })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use ::zip::ZipArchive;
    use chrono::NaiveDate;

    use super::*;

    fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>, DateTime)> {
        let mut archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).unwrap();
                let mut content = Vec::new();
                file.read_to_end(&mut content).unwrap();
                (file.name().unwrap().into_owned(), content, file.last_modified().unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn files_round_trip_with_unique_names() {
        let pdf: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let files: Vec<(&str, &[u8])> = vec![
            ("invoice.pdf", &pdf),
            ("Invoice.pdf", b"second"),
            ("../../invoice.pdf", b"third"),
            ("Müller 2025-001.xml", "<Invoice>ä</Invoice>".as_bytes()),
            ("", b""),
        ];
        let zipped = zip_files(files.iter().copied()).unwrap();
        assert_eq!(
            zipped.names,
            ["invoice.pdf", "Invoice-2.pdf", "invoice-3.pdf", "Müller 2025-001.xml", "file-5"]
        );
        let entries = read_back(&zipped.bytes);
        assert_eq!(entries.len(), files.len());
        for ((name, content, modified), (expected_name, (_, expected))) in
            entries.iter().zip(zipped.names.iter().zip(&files))
        {
            assert_eq!(name, expected_name);
            assert_eq!(content.as_slice(), *expected);
            assert_eq!(*modified, DateTime::default());
        }
        assert!(zipped.bytes.len() < pdf.len() / 10, "deflate compresses a repetitive file");
    }

    #[test]
    fn archives_are_deterministic() {
        let files = [("a.xml", b"<a/>".as_slice()), ("b.pdf", b"%PDF-1.7".as_slice())];
        let one = zip_files(files).unwrap();
        let two = zip_files(files).unwrap();
        assert_eq!(one, two);

        let when = NaiveDate::from_ymd_opt(2025, 3, 1).and_then(|d| d.and_hms_opt(8, 30, 15)).unwrap();
        let dated = zip_files_at(files, when).unwrap();
        assert_eq!(dated, zip_files_at(files, when).unwrap());
        let entries = read_back(&dated.bytes);
        let expected = DateTime::from_date_and_time(2025, 3, 1, 8, 30, 14).unwrap();
        assert!(entries.iter().all(|(_, _, m)| *m == expected));
    }

    #[test]
    fn timestamps_outside_the_zip_range_are_clamped() {
        let at = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap();
        assert_eq!(zip_time(at(1970, 1, 1)), DateTime::default());
        assert_eq!(zip_time(at(2200, 1, 1)), DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58).unwrap());
    }

    #[test]
    fn an_empty_archive_is_valid() {
        let zipped = zip_files(Vec::<(&str, &[u8])>::new()).unwrap();
        assert!(read_back(&zipped.bytes).is_empty());
    }
}
