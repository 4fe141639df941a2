//! Codings proposed for an unmatched line, learned from the supplier's text rules and earlier
//! manual codings. Suggestions are shown to a person, best first; they are never applied.
//!
//! The score (0 to 1) compares folded texts (case- and accent-insensitive, see [`crate::fold`]):
//! the mean of the word overlap (Dice coefficient of the word sets) and the character overlap
//! (Dice coefficient of the character trigrams, which still sees "koffiebonen" near
//! "koffie bonen"). Identical texts score 1. Each coding is proposed once, with its best score;
//! equal scores are ordered by account code, so the order is stable.

use std::collections::{BTreeMap, BTreeSet};

use ledgerpost_ubl::model::{Invoice, Line};

use crate::fold::{fold, words};
use crate::masterdata::{Coding, TextRule};
use crate::matching::{Assignment, Explanation, InvoiceMatching};

/// Scores below this are not proposed.
pub const MIN_SCORE: f64 = 0.2;

/// A line a person coded by hand: its item text and the coding chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastCoding {
    pub item_text: String,
    pub coding: Coding,
}

/// Where a suggestion was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    TextRule,
    ManualCoding,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub coding: Coding,
    /// 0 to 1.
    pub score: f64,
    /// The rule's search text or the earlier line's item text it resembles.
    pub resembles: String,
    pub source: Source,
}

/// The lines of an invoice that a person coded by hand, to learn from.
pub fn past_codings(invoice: &Invoice, state: &InvoiceMatching) -> Vec<PastCoding> {
    state
        .lines()
        .iter()
        .zip(&invoice.lines)
        .filter(|(m, _)| m.by_hand && m.explanation == Explanation::ManualEntry)
        .filter_map(|(m, line)| match &m.assignment {
            Some(Assignment::Coding(coding)) => {
                Some(PastCoding { item_text: item_text(line), coding: coding.clone() })
            }
            _ => None,
        })
        .collect()
}

/// A line's item name and description.
pub fn item_text(line: &Line) -> String {
    match line.item.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(description) => format!("{} {description}", line.item.name.trim()),
        None => line.item.name.trim().to_owned(),
    }
}

/// Up to `limit` codings for `line`, best first, from the supplier's rules and past codings.
pub fn suggest(line: &Line, rules: &[TextRule], history: &[PastCoding], limit: usize) -> Vec<Suggestion> {
    let target = Profile::of(&item_text(line));
    let examples = rules
        .iter()
        .map(|r| (&r.search_text, &r.coding, Source::TextRule))
        .chain(history.iter().map(|h| (&h.item_text, &h.coding, Source::ManualCoding)));
    let mut best: BTreeMap<&Coding, Suggestion> = BTreeMap::new();
    for (text, coding, source) in examples {
        let score = target.similarity(&Profile::of(text));
        if score < MIN_SCORE {
            continue;
        }
        if best.get(coding).is_none_or(|s| s.score < score) {
            best.insert(
                coding,
                Suggestion { coding: coding.clone(), score, resembles: text.clone(), source },
            );
        }
    }
    let mut suggestions: Vec<Suggestion> = best.into_values().collect();
    suggestions.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.coding.cmp(&b.coding)));
    suggestions.truncate(limit);
    suggestions
}

/// The word set and trigram set of a folded text.
struct Profile {
    words: BTreeSet<String>,
    trigrams: BTreeSet<[char; 3]>,
}

impl Profile {
    fn of(text: &str) -> Profile {
        let folded = fold(text);
        let words: BTreeSet<String> = words(&folded).map(str::to_owned).collect();
        let mut trigrams = BTreeSet::new();
        for word in &words {
            let padded: Vec<char> =
                std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
            for w in padded.windows(3) {
                trigrams.insert([w[0], w[1], w[2]]);
            }
        }
        Profile { words, trigrams }
    }

    fn similarity(&self, other: &Profile) -> f64 {
        (dice(&self.words, &other.words) + dice(&self.trigrams, &other.trigrams)) / 2.0
    }
}

fn dice<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count();
    (2 * common) as f64 / (a.len() + b.len()) as f64
}
