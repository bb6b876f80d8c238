//! The cadastre's addresses and parcel references, indexed for matching: references by their
//! normalised text; addresses by street, each street's numbers sorted; the streets' names for
//! the fuzzy step.

use std::collections::HashMap;

use super::edits::{edits_within, Letters};
use super::normalise::{normalise_ref, parse_address, Address, HouseNumber};

/// One known address on a street: its number (or range) and the parcel group it belongs to.
#[derive(Debug, Clone)]
struct Entry {
    number: HouseNumber,
    unit: Option<String>,
    group: u32,
}

/// What the matcher found for one report.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The group (a key of the cadastre: one or more parcels), how, and the score (0–1).
    Match {
        /// The group matched.
        group: u32,
        /// How.
        how: How,
        /// 1 for an exact match, less the further it had to look.
        score: f64,
    },
    /// Nothing good enough; why, and the best candidate seen with its score.
    Unmatched {
        /// Why.
        reason: Reason,
        /// The best candidate (its group) and its score, if any was seen.
        best: Option<(u32, f64)>,
    },
}

/// How a report was matched without a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Its parcel reference.
    Ref,
    /// Its address: street and number equal, or the number inside a range.
    Address,
    /// The nearest number on the same side of the same street.
    Near,
    /// A street name within the edit distance allowed, then as `Address` or `Near`.
    Fuzzy,
}

/// Why a report with no point was left unlocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Neither a reference nor an address.
    NoAddress,
    /// Nothing matched.
    NoMatch,
    /// Two parcels matched equally well.
    Ambiguous,
    /// A candidate was seen, beyond the thresholds.
    BelowThreshold,
}

impl Reason {
    /// `no_address`, `no_match`, `ambiguous`, `below_threshold`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoAddress => "no_address",
            Reason::NoMatch => "no_match",
            Reason::Ambiguous => "ambiguous",
            Reason::BelowThreshold => "below_threshold",
        }
    }
}

/// How far the matcher may look.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// `address_near`: the most house numbers between the report's and the one it takes.
    pub near_numbers: u32,
    /// `address_fuzzy`: the most edits (insertions, deletions, substitutions, swaps of two
    /// letters) between street names of up to 8 letters; one more for longer names.
    pub fuzzy_edits: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            near_numbers: 10,
            fuzzy_edits: 1,
        }
    }
}

/// The cadastre's references and addresses, each pointing at a group (one key of the
/// cadastre, which can hold several parcels).
#[derive(Debug, Default)]
pub struct AddressBook {
    refs: HashMap<String, u32>,
    streets: HashMap<String, Vec<Entry>>,
    /// The street names with their letter counts, by length then name.
    names: Vec<(String, Letters)>,
    /// `by_length[n]`: where the names of `n` bytes start in `names`.
    by_length: Vec<usize>,
    thresholds: Thresholds,
}

impl AddressBook {
    /// An empty book with these thresholds.
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            ..Self::default()
        }
    }

    /// Adds a group's reference (normalised here). A reference given to two groups matches
    /// neither (`ambiguous`).
    pub fn add_ref(&mut self, reference: &str, group: u32) {
        let key = normalise_ref(reference);
        if key.is_empty() {
            return;
        }
        self.refs
            .entry(key)
            .and_modify(|g| {
                if *g != group {
                    *g = u32::MAX;
                }
            })
            .or_insert(group);
    }

    /// Adds one of a group's addresses; returns whether it could be read (a street).
    pub fn add_address(&mut self, address: &str, group: u32) -> bool {
        let Some(Address {
            street,
            number,
            unit,
        }) = parse_address(address)
        else {
            return false;
        };
        let Some(number) = number else {
            // a street alone places nothing
            return false;
        };
        let list = self.streets.entry(street).or_default();
        if !list
            .iter()
            .any(|e| e.group == group && e.number == number && e.unit == unit)
        {
            list.push(Entry {
                number,
                unit,
                group,
            });
        }
        true
    }

    /// Sorts what was added; call once before matching.
    pub fn finish(&mut self) {
        for list in self.streets.values_mut() {
            list.sort_by(|a, b| {
                (a.number.lo, a.number.hi, a.group).cmp(&(b.number.lo, b.number.hi, b.group))
            });
        }
        self.names = self
            .streets
            .keys()
            .map(|n| (n.clone(), Letters::of(n)))
            .collect();
        self.names
            .sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
        let longest = self.names.last().map_or(0, |n| n.0.len());
        self.by_length = (0..=longest + 1)
            .map(|len| self.names.partition_point(|n| n.0.len() < len))
            .collect();
    }

    /// Addresses known, references known.
    pub fn len(&self) -> (usize, usize) {
        (self.streets.values().map(Vec::len).sum(), self.refs.len())
    }

    /// Whether the book knows nothing.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty() && self.streets.is_empty()
    }

    /// Finds the group of a report without a point: by its reference first, then its address.
    pub fn find(&self, reference: Option<&str>, address: Option<&str>) -> Found {
        let reference = reference.map(normalise_ref).filter(|r| !r.is_empty());
        let parsed = address.and_then(parse_address);
        if reference.is_none() && parsed.is_none() {
            return Found::Unmatched {
                reason: Reason::NoAddress,
                best: None,
            };
        }
        if let Some(r) = &reference {
            match self.refs.get(r) {
                Some(&u32::MAX) => {
                    return Found::Unmatched {
                        reason: Reason::Ambiguous,
                        best: None,
                    }
                }
                Some(&group) => {
                    return Found::Match {
                        group,
                        how: How::Ref,
                        score: 1.0,
                    }
                }
                None => {}
            }
        }
        let Some(a) = parsed else {
            return Found::Unmatched {
                reason: Reason::NoMatch,
                best: None,
            };
        };
        let Some(number) = &a.number else {
            return Found::Unmatched {
                reason: Reason::NoAddress,
                best: None,
            };
        };
        if let Some(list) = self.streets.get(&a.street) {
            return self.on_street(list, number, a.unit.as_deref(), 1.0);
        }
        self.fuzzy(&a, number)
    }

    /// A street not known as written: an ordinal street with a typo, else the one name within
    /// the edits allowed (two equally near: ambiguous; one edit beyond: below the threshold).
    fn fuzzy(&self, a: &Address, number: &HouseNumber) -> Found {
        // an ordinal street with a typo ("Fixst St", "Secnd St"): its ordinal word read back
        let ordinal = super::normalise::ordinal_within_one_edit(&a.street);
        if let Some(list) = ordinal.as_ref().and_then(|o| self.streets.get(o)) {
            return match self.on_street(list, number, a.unit.as_deref(), 0.85) {
                Found::Match { group, score, .. } => Found::Match {
                    group,
                    how: How::Fuzzy,
                    score,
                },
                other => other,
            };
        }
        // the fuzzy step: the street names within the edits allowed; one best, or ambiguous
        let allowed = |len: usize| self.thresholds.fuzzy_edits + usize::from(len > 8);
        // names up to one edit beyond the allowed are looked at (that one: below_threshold);
        // the length and the letters' counts bound the edits from below, so most names are
        // passed over without an alignment
        let bound = allowed(a.street.len()) + 1;
        let letters = Letters::of(&a.street);
        let mut scratch = Vec::new();
        let mut best: Option<(usize, &str)> = None;
        let mut tied = false;
        let len = a.street.len();
        let slot = |l: usize| self.by_length.get(l).copied().unwrap_or(self.names.len());
        let window = slot(len.saturating_sub(bound))..slot(len + bound + 1);
        for (name, counts) in &self.names[window] {
            let limit = best.map_or(bound, |(b, _)| b.min(bound));
            if name.len().abs_diff(a.street.len()) > limit
                || letters.quick_bound(counts) > limit
                || letters.lower_bound(counts) > limit
            {
                continue;
            }
            let Some(d) = edits_within(name.as_bytes(), a.street.as_bytes(), limit, &mut scratch)
            else {
                continue;
            };
            match best {
                Some((b, _)) if d > b => {}
                Some((b, other)) if d == b => tied |= other != name,
                _ => {
                    best = Some((d, name));
                    tied = false;
                }
            }
        }
        let similarity =
            |d: usize, name: &str| 1.0 - d as f64 / a.street.len().max(name.len()).max(1) as f64;
        // a name less than half alike is no candidate at all
        let Some((d, name)) = best.filter(|(d, name)| similarity(*d, name) >= 0.5) else {
            return Found::Unmatched {
                reason: Reason::NoMatch,
                best: None,
            };
        };
        let similarity = similarity(d, name);
        let list = &self.streets[name];
        let on = self.on_street(list, number, a.unit.as_deref(), 0.9 * similarity);
        if d > allowed(a.street.len()) {
            let best = match on {
                Found::Match { group, score, .. } => Some((group, score)),
                Found::Unmatched { best, .. } => best,
            };
            return Found::Unmatched {
                reason: Reason::BelowThreshold,
                best,
            };
        }
        if tied {
            return Found::Unmatched {
                reason: Reason::Ambiguous,
                best: None,
            };
        }
        match on {
            Found::Match { group, score, .. } => Found::Match {
                group,
                how: How::Fuzzy,
                score,
            },
            other => other,
        }
    }

    /// A number on a known street: equal (unit used to break a tie), inside a range, or the
    /// nearest on the same side within the threshold. `scale` multiplies the score.
    fn on_street(&self, list: &[Entry], n: &HouseNumber, unit: Option<&str>, scale: f64) -> Found {
        // equal numbers (suffix included)
        let equal: Vec<&Entry> = list.iter().filter(|e| e.number == *n).collect();
        if let Some(found) = one_group(&equal, unit, How::Address, scale) {
            return found;
        }
        // inside a range of one side
        let covering: Vec<&Entry> = list
            .iter()
            .filter(|e| e.number.is_range() && e.number.covers(n.lo))
            .collect();
        if let Some(found) = one_group(&covering, unit, How::Address, 0.95 * scale) {
            return found;
        }
        // the nearest on the same side (same parity), within the threshold
        let side: Vec<&Entry> = list
            .iter()
            .filter(|e| e.number.lo % 2 == n.lo % 2)
            .collect();
        let distance = |e: &Entry| {
            if e.number.covers(n.lo) {
                0
            } else {
                e.number.lo.abs_diff(n.lo).min(e.number.hi.abs_diff(n.lo))
            }
        };
        let Some(d) = side.iter().map(|e| distance(e)).min() else {
            return Found::Unmatched {
                reason: Reason::NoMatch,
                best: None,
            };
        };
        let mut nearest: Vec<&Entry> = side.iter().copied().filter(|e| distance(e) == d).collect();
        // halfway between two lots: the one below, as a lot's number is the first of its
        // frontage (10 Main St spans 10-12 when the next lot is 14)
        if nearest.iter().any(|e| e.number.lo < n.lo) && nearest.iter().any(|e| e.number.lo > n.lo)
        {
            nearest.retain(|e| e.number.lo < n.lo);
        }
        let score =
            scale * (0.9 - 0.4 * f64::from(d) / f64::from(self.thresholds.near_numbers.max(1)));
        let group = nearest[0].group;
        if d > self.thresholds.near_numbers {
            return Found::Unmatched {
                reason: Reason::BelowThreshold,
                best: Some((group, score.max(0.0))),
            };
        }
        match one_group(&nearest, None, How::Near, 1.0) {
            Some(Found::Match { group, .. }) => Found::Match {
                group,
                how: How::Near,
                score,
            },
            other => other.unwrap_or(Found::Unmatched {
                reason: Reason::NoMatch,
                best: None,
            }),
        }
    }
}

/// The one group among `entries` (after the unit, where they differ): a match; two or more:
/// ambiguous; none: `None`.
fn one_group(entries: &[&Entry], unit: Option<&str>, how: How, score: f64) -> Option<Found> {
    let first = entries.first()?;
    if entries.iter().all(|e| e.group == first.group) {
        return Some(Found::Match {
            group: first.group,
            how,
            score,
        });
    }
    if let Some(u) = unit {
        let with: Vec<&&Entry> = entries
            .iter()
            .filter(|e| e.unit.as_deref() == Some(u))
            .collect();
        if let Some(w) = with.first() {
            if with.iter().all(|e| e.group == w.group) {
                return Some(Found::Match {
                    group: w.group,
                    how,
                    score,
                });
            }
        }
    }
    Some(Found::Unmatched {
        reason: Reason::Ambiguous,
        best: Some((first.group, score)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::edits::{edits, edits_within, Letters};
    use super::*;

    fn book() -> AddressBook {
        let mut b = AddressBook::new(Thresholds::default());
        for (i, a) in [
            "219 MONSIGNOR OBRIEN HWY",
            "11 ELM ST",
            "19 ELM ST",
            "187-197 HARVEY ST",
            "20 CHESTNUT ST #1",
            "20 CHESTNUT ST #2",
            "15 OAK AVE",
            "15 OAK AVE",
        ]
        .iter()
        .enumerate()
        {
            // the last two: one address in two groups
            b.add_address(a, i as u32);
        }
        b.add_ref("127-123", 100);
        b.add_ref("5-5", 101);
        b.add_ref("0005 005", 102);
        b.finish();
        b
    }

    fn group(f: &Found) -> Option<(u32, How)> {
        match f {
            Found::Match { group, how, .. } => Some((*group, *how)),
            Found::Unmatched { .. } => None,
        }
    }

    fn reason(f: &Found) -> Option<Reason> {
        match f {
            Found::Unmatched { reason, .. } => Some(*reason),
            Found::Match { .. } => None,
        }
    }

    #[test]
    fn each_kind_of_match_and_each_reason() {
        let b = book();
        let f = |a: &str| b.find(None, Some(a));
        assert_eq!(
            group(&f("219 Monsignor O'Brien Highway")),
            Some((0, How::Address))
        );
        assert_eq!(group(&f("191 Harvey Street")), Some((3, How::Address)));
        assert_eq!(
            group(&f("13 Elm St")),
            Some((1, How::Near)),
            "11 is nearer than 19"
        );
        assert_eq!(
            group(&f("15 Elm St")),
            Some((1, How::Near)),
            "halfway: the lot below"
        );
        assert_eq!(group(&f("17 Elm St")), Some((2, How::Near)));
        assert_eq!(
            reason(&f("12 Elm St")),
            Some(Reason::NoMatch),
            "no even number known"
        );
        assert_eq!(reason(&f("41 Elm St")), Some(Reason::BelowThreshold));
        assert_eq!(group(&f("219 Monsignor Obrein Hwy")), Some((0, How::Fuzzy)));
        assert_eq!(reason(&f("219 Nowhere Lane")), Some(Reason::NoMatch));
        assert_eq!(reason(&f("15 Oak Ave")), Some(Reason::Ambiguous));
        assert_eq!(
            group(&f("20 Chestnut St Apt 2")),
            Some((5, How::Address)),
            "the unit decides"
        );
        assert_eq!(reason(&f("20 Chestnut St")), Some(Reason::Ambiguous));
        assert_eq!(reason(&b.find(None, None)), Some(Reason::NoAddress));
        assert_eq!(
            group(&b.find(Some("0127-0123"), Some("nowhere"))),
            Some((100, How::Ref))
        );
        assert_eq!(reason(&b.find(Some("5 5"), None)), Some(Reason::Ambiguous));
        assert_eq!(edits("obrien", "obrein"), 1);
        let mut o = AddressBook::new(Thresholds::default());
        o.add_address("30 SECOND ST", 9);
        o.finish();
        assert_eq!(
            group(&o.find(None, Some("30 2nd Street"))),
            Some((9, How::Address))
        );
        assert_eq!(
            group(&o.find(None, Some("30 Secnd St"))),
            Some((9, How::Fuzzy))
        );
        assert_eq!(edits("kitten", "sitting"), 3);
        let mut scratch = Vec::new();
        for (x, y) in [
            ("obrien", "obrein"),
            ("kitten", "sitting"),
            ("abc", "abc"),
            ("", "ab"),
        ] {
            let e = edits(x, y);
            for limit in 0..5 {
                let got = edits_within(x.as_bytes(), y.as_bytes(), limit, &mut scratch);
                assert_eq!(got, (e <= limit).then_some(e), "{x} {y} {limit}");
            }
            assert!(Letters::of(x).lower_bound(&Letters::of(y)) <= e);
            assert!(Letters::of(x).quick_bound(&Letters::of(y)) <= e);
        }
    }
}
