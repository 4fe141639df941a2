//! How far an invoiced amount may be from the amount ledgerpost expected (a goods receipt's value,
//! an obligation's open balance) and still match.
//!
//! Semantics, in one place because every matching step relies on them:
//! - the **difference** is `|actual − expected|`, where *expected* is the amount on ledgerpost's
//!   side (receipt, obligation) and *actual* the amount on the invoice;
//! - **exact**: the difference must be zero;
//! - **percentage p**: the difference may be at most `p / 100 × |expected|`, a percentage *of the
//!   expected amount*, never of the invoice's (so a supplier cannot widen the window by invoicing
//!   more), computed exactly in decimals with no rounding of the limit;
//! - **max amount m**: the difference may be at most `m`;
//! - **both given**: the difference must be within both.
//!
//! A difference exactly at the limit is within tolerance; one cent more is not.

use rust_decimal::Decimal;

/// A validated tolerance. `Exact` is the absence of both limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tolerance {
    percentage: Option<Decimal>,
    max_amount: Option<Decimal>,
}

/// Why a tolerance was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToleranceError {
    #[error("percentage {0} must be between 0 and 100")]
    Percentage(Decimal),
    #[error("max_amount {0} must not be negative")]
    MaxAmount(Decimal),
}

impl Tolerance {
    /// Only an exact match is accepted.
    pub const EXACT: Tolerance = Tolerance { percentage: None, max_amount: None };

    /// A tolerance with a percentage of the expected amount and/or a maximum amount; with neither,
    /// it is [`Tolerance::EXACT`].
    pub fn new(percentage: Option<Decimal>, max_amount: Option<Decimal>) -> Result<Self, ToleranceError> {
        if let Some(p) = percentage
            && (p.is_sign_negative() && !p.is_zero() || p > Decimal::ONE_HUNDRED)
        {
            return Err(ToleranceError::Percentage(p));
        }
        if let Some(m) = max_amount
            && m.is_sign_negative()
            && !m.is_zero()
        {
            return Err(ToleranceError::MaxAmount(m));
        }
        Ok(Tolerance { percentage, max_amount })
    }

    pub fn is_exact(&self) -> bool {
        self.percentage.is_none() && self.max_amount.is_none()
    }

    pub fn percentage(&self) -> Option<Decimal> {
        self.percentage
    }

    pub fn max_amount(&self) -> Option<Decimal> {
        self.max_amount
    }

    /// Whether `actual` is within tolerance of `expected` (see the module documentation).
    /// Amounts too large to compute with are never within tolerance.
    pub fn allows(&self, expected: Decimal, actual: Decimal) -> bool {
        let Some(difference) = actual.checked_sub(expected).map(|d| d.abs()) else {
            return false;
        };
        if self.is_exact() {
            return difference.is_zero();
        }
        let within_percentage = match self.percentage {
            None => true,
            Some(p) => {
                match expected.abs().checked_mul(p).and_then(|x| x.checked_div(Decimal::ONE_HUNDRED)) {
                    Some(limit) => difference <= limit,
                    None => false,
                }
            }
        };
        let within_amount = self.max_amount.is_none_or(|m| difference <= m);
        within_percentage && within_amount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn exact_accepts_only_equal_amounts() {
        let t = Tolerance::EXACT;
        assert!(t.allows(d("100.00"), d("100")));
        assert!(!t.allows(d("100.00"), d("100.01")));
        assert!(!t.allows(d("100.00"), d("99.99")));
    }

    #[test]
    fn percentage_is_of_the_expected_amount_and_inclusive() {
        // 2 % of the expected 100.00 is 2.00: 102.00 and 98.00 are exactly at the limit.
        let t = Tolerance::new(Some(d("2")), None).unwrap();
        assert!(t.allows(d("100.00"), d("102.00")));
        assert!(t.allows(d("100.00"), d("98.00")));
        assert!(!t.allows(d("100.00"), d("102.01")));
        assert!(!t.allows(d("100.00"), d("97.99")));
        // Of the expected side: expected 102.00, actual 100.00 → limit 2.04, difference 2.00.
        assert!(t.allows(d("102.00"), d("100.00")));
        // Expected 98.00 → limit 1.96: 99.96 is at the limit, 99.97 one cent over, 100.00 out.
        assert!(t.allows(d("98.00"), d("99.96")));
        assert!(!t.allows(d("98.00"), d("99.97")));
        assert!(!t.allows(d("98.00"), d("100.00")));
        // Negative expected amounts (credits) use the absolute value.
        assert!(t.allows(d("-100.00"), d("-102.00")));
        assert!(!t.allows(d("-100.00"), d("-102.01")));
    }

    #[test]
    fn max_amount_is_inclusive() {
        let t = Tolerance::new(None, Some(d("5.00"))).unwrap();
        assert!(t.allows(d("1000.00"), d("1005.00")));
        assert!(t.allows(d("1000.00"), d("995.00")));
        assert!(!t.allows(d("1000.00"), d("1005.01")));
        assert!(!t.allows(d("1000.00"), d("994.99")));
    }

    #[test]
    fn both_limits_must_hold() {
        // 1 % of 1000.00 = 10.00, max 5.00: the amount limit binds.
        let t = Tolerance::new(Some(d("1")), Some(d("5.00"))).unwrap();
        assert!(t.allows(d("1000.00"), d("1005.00")));
        assert!(!t.allows(d("1000.00"), d("1005.01")));
        // 1 % of 100.00 = 1.00, max 5.00: the percentage binds.
        assert!(t.allows(d("100.00"), d("101.00")));
        assert!(!t.allows(d("100.00"), d("101.01")));
    }

    #[test]
    fn refuses_nonsense_and_overflow() {
        assert!(Tolerance::new(Some(d("-1")), None).is_err());
        assert!(Tolerance::new(Some(d("100.01")), None).is_err());
        assert!(Tolerance::new(None, Some(d("-0.01"))).is_err());
        assert!(Tolerance::new(None, None).unwrap().is_exact());
        let t = Tolerance::new(Some(d("100")), None).unwrap();
        assert!(!t.allows(Decimal::MIN, Decimal::MAX));
    }
}
