//! Addresses and parcel references as written by people, normalised so that the ways of writing
//! the same one compare equal: case, accents, punctuation, the street types and abbreviations
//! of Spanish, Portuguese and English, ordinals, number markers ("#", "No.", "Nº") and units.

/// An address cut into what the matcher compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The street: its type canonical, its words normalised (`"monsignor obrien hwy"`).
    pub street: String,
    /// The house number, if any.
    pub number: Option<HouseNumber>,
    /// A unit (apartment, interior, suite) if one was written; never needed to match.
    pub unit: Option<String>,
}

/// A house number: a number or a range ("187-197", numbers of one side), with a letter suffix
/// ("17B", "101R"). A second part smaller than the first ("45-10", a Colombian plate: 10 m from
/// the corner with 45) is kept as written and is not a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseNumber {
    /// First number of the range (the number itself when not a range).
    pub lo: u32,
    /// Last number of the range (`lo` when not a range).
    pub hi: u32,
    /// Letters after the number (`"b"` of "17B"), lowercase.
    pub suffix: String,
}

impl HouseNumber {
    /// Whether this is a range of numbers (one side of a street).
    pub fn is_range(&self) -> bool {
        self.hi > self.lo
    }

    /// Whether `n` lies in the range on its side (same parity as its ends).
    pub fn covers(&self, n: u32) -> bool {
        self.lo <= n && n <= self.hi && (n % 2 == self.lo % 2 || self.lo % 2 != self.hi % 2)
    }
}

/// Street types: every way of writing one → its canonical form. Transversal (Colombia) and
/// Travessa (Portugal) share "tv", as they share the abbreviation.
const STREET_TYPES: &[(&str, &[&str])] = &[
    ("calle", &["calle", "c", "cl", "cll", "call"]),
    ("carrera", &["carrera", "cra", "kr", "kra", "cr", "carr"]),
    (
        "av",
        &[
            "avenida", "avenue", "av", "ave", "avda", "avd", "avn", "aven",
        ],
    ),
    ("diagonal", &["diagonal", "dg", "diag"]),
    (
        "tv",
        &[
            "transversal",
            "travessa",
            "tv",
            "tr",
            "trans",
            "transv",
            "trv",
            "trav",
        ],
    ),
    ("rua", &["rua", "r"]),
    ("largo", &["largo", "lg", "lgo"]),
    ("praca", &["praca", "pc", "pca", "plaza", "pza", "pl"]),
    ("pasaje", &["pasaje", "pje", "psje", "passagem"]),
    ("camino", &["camino", "cno", "cam"]),
    ("paseo", &["paseo", "pso"]),
    ("alameda", &["alameda", "al"]),
    ("st", &["street", "st", "str"]),
    ("hwy", &["highway", "hwy", "hiway"]),
    ("rd", &["road", "rd"]),
    ("dr", &["drive", "dr"]),
    ("ln", &["lane", "ln"]),
    ("ct", &["court", "ct"]),
    ("blvd", &["boulevard", "blvd", "bulevar", "boulevar"]),
    ("sq", &["square", "sq"]),
    ("ter", &["terrace", "ter", "terr"]),
    ("pkwy", &["parkway", "pkwy", "pky"]),
    ("pk", &["park", "pk"]),
    ("cir", &["circle", "cir"]),
    ("pl", &["place"]),
    ("wy", &["way", "wy"]),
    ("row", &["row"]),
    ("wharf", &["wharf", "whf"]),
];

/// Words that start a unit: what follows is not part of the street or the number.
const UNIT_WORDS: &[&str] = &[
    "apt",
    "apto",
    "apartment",
    "apartamento",
    "unit",
    "int",
    "interior",
    "suite",
    "ste",
    "piso",
    "depto",
    "dpto",
    "departamento",
    "of",
    "oficina",
    "local",
    "fl",
    "floor",
    "rm",
    "room",
    "casa",
    "bloco",
    "bloque",
    "torre",
    "lote",
];

/// Words that say "the number follows".
const NUMBER_WORDS: &[&str] = &["no", "n", "nro", "num", "numero", "nº", "n°", "#"];

/// Ordinal words as digits (street names such as "Second St" and "2nd St" compare equal).
const ORDINALS: &[(&str, &str)] = &[
    ("first", "1"),
    ("second", "2"),
    ("third", "3"),
    ("fourth", "4"),
    ("fifth", "5"),
    ("sixth", "6"),
    ("seventh", "7"),
    ("eighth", "8"),
    ("ninth", "9"),
    ("tenth", "10"),
    ("primera", "1"),
    ("primero", "1"),
    ("segunda", "2"),
    ("segundo", "2"),
    ("tercera", "3"),
    ("tercero", "3"),
];

/// Lowercase ASCII with accents folded; `ñ` → `n`, `ç` → `c`.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' | 'Á' | 'À' | 'Ä' | 'Â' | 'Ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'É' | 'È' | 'Ë' | 'Ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'Í' | 'Ì' | 'Ï' | 'Î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' | 'Ó' | 'Ò' | 'Ö' | 'Ô' | 'Õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'Ú' | 'Ù' | 'Ü' | 'Û' => 'u',
            'ñ' | 'Ñ' => 'n',
            'ç' | 'Ç' => 'c',
            'º' | '°' => 'º',
            c => c.to_ascii_lowercase(),
        };
        out.push(c);
    }
    out
}

/// A parcel reference normalised: lowercase, its groups of letters and digits joined by `-`
/// whatever separated them, leading zeros dropped ("0127-0123", "127 123", "127/123" →
/// "127-123").
pub fn normalise_ref(s: &str) -> String {
    let folded = fold(s);
    let mut groups: Vec<&str> = Vec::new();
    for g in folded.split(|c: char| !c.is_ascii_alphanumeric()) {
        if g.is_empty() {
            continue;
        }
        let t = g.trim_start_matches('0');
        groups.push(if t.is_empty() { "0" } else { t });
    }
    groups.join("-")
}

/// The canonical street type of a word, if it is one.
fn street_type(word: &str) -> Option<&'static str> {
    STREET_TYPES
        .iter()
        .find(|(_, forms)| forms.contains(&word))
        .map(|(canonical, _)| *canonical)
}

/// A street-name word normalised: ordinals as digits ("2nd", "second", "2da", "2º" → "2").
fn name_word(word: &str) -> String {
    if let Some((_, d)) = ORDINALS.iter().find(|(w, _)| *w == word) {
        return (*d).to_owned();
    }
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty() {
        let rest = &word[digits.len()..];
        if [
            "st", "nd", "rd", "th", "a", "o", "ra", "da", "ro", "do", "ta", "to", "º",
        ]
        .contains(&rest)
        {
            return digits;
        }
    }
    word.to_owned()
}

/// The street with a word one edit away from an ordinal word of five letters or more ("fixst"
/// → "1"), when there is one: the fuzzy step's second chance on ordinal streets, whose names are
/// digits once normalised.
pub(crate) fn ordinal_within_one_edit(street: &str) -> Option<String> {
    let mut changed = false;
    let words: Vec<String> = street
        .split(' ')
        .map(|w| {
            let near = ORDINALS
                .iter()
                .filter(|(o, _)| o.len() >= 5 && o.len().abs_diff(w.len()) <= 1)
                .find(|(o, _)| super::edits::edits(o, w) == 1)
                .map(|(_, d)| *d);
            match near {
                Some(d) if w.len() >= 4 => {
                    changed = true;
                    d.to_owned()
                }
                _ => w.to_owned(),
            }
        })
        .collect();
    changed.then(|| words.join(" "))
}

/// A house number as written: "17", "17B", "187-197", "38-38" (a range of one).
fn house_number(token: &str) -> Option<HouseNumber> {
    let (a, b) = match token.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (token, None),
    };
    let digits = |t: &str| -> Option<(u32, String)> {
        let d: String = t.chars().take_while(char::is_ascii_digit).collect();
        let n = d.parse().ok()?;
        let suffix = &t[d.len()..];
        suffix
            .chars()
            .all(|c| c.is_ascii_alphabetic())
            .then(|| (n, suffix.to_owned()))
            .filter(|(_, s)| s.len() <= 2)
    };
    let (lo, suffix) = digits(a)?;
    let hi = match b {
        // "45-10" (Colombia: 10 m from the corner of 45) is a number, not a range
        Some(b) => digits(b).map(|(n, _)| n)?,
        None => lo,
    };
    Some(HouseNumber { lo, hi, suffix })
}

/// Cuts an address into street, number and unit. Both orders are read: number first ("219
/// Monsignor O'Brien Hwy #3", the English way; a "#" after the street then starts a unit) and
/// street first ("Rua Augusta 123", "Calle 45 # 12-30", "Av. Central Nº 123 Apto 4": a "#",
/// "No." or "Nº" then introduces the number). `None` when no street is left.
pub fn parse_address(s: &str) -> Option<Address> {
    let folded = fold(s);
    // punctuation that separates words; '#' kept as a word of its own; apostrophes join
    let mut spaced = String::with_capacity(folded.len() + 8);
    for c in folded.chars() {
        match c {
            '\'' | '’' | '`' => {}
            '#' => spaced.push_str(" # "),
            '.' | ',' | ';' | ':' | '(' | ')' | '"' => spaced.push(' '),
            c => spaced.push(c),
        }
    }
    let words: Vec<&str> = spaced.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let is_unit = |w: &str| UNIT_WORDS.contains(&w);
    let mut number = None;
    let mut unit = None;
    let mut street: Vec<String> = Vec::new();
    let mut i = 0;
    // the English way: the number first (a fraction such as "1/2" after it dropped)
    if let Some(mut n) = house_number(words[0]) {
        i = 1;
        // "58 1/2 Spring St" is not "58 Spring St": the fraction belongs to the number
        if let Some(f) = words.get(1).filter(|w| w.contains('/')) {
            n.suffix.push_str(f);
            i = 2;
        }
        number = Some(n);
    }
    let number_first = number.is_some();
    while i < words.len() {
        let w = words[i];
        if is_unit(w) || (number_first && w == "#") {
            let rest = words[i + 1..].join(" ");
            unit = (!rest.is_empty()).then_some(rest);
            break;
        }
        if !number_first && NUMBER_WORDS.contains(&w) {
            if let Some(n) = words.get(i + 1).and_then(|t| house_number(t)) {
                number = Some(n);
                i += 2;
                // whatever follows the number is a unit
                let rest: Vec<&str> = words[i..].iter().copied().filter(|w| !is_unit(w)).collect();
                unit = (!rest.is_empty()).then(|| rest.join(" "));
                break;
            }
            i += 1;
            continue;
        }
        // street first, number last ("Rua Augusta 123"), perhaps before a unit
        if !number_first
            && !street.is_empty()
            && words.get(i + 1).is_none_or(|n| is_unit(n))
            && street.len() >= 2
        {
            if let Some(n) = house_number(w) {
                number = Some(n);
                let rest: Vec<&str> = words[i + 1..]
                    .iter()
                    .copied()
                    .filter(|w| !is_unit(w))
                    .collect();
                unit = (!rest.is_empty()).then(|| rest.join(" "));
                break;
            }
        }
        street.push(match street_type(w) {
            Some(t) => t.to_owned(),
            None => name_word(w),
        });
        i += 1;
    }
    if street.is_empty() {
        return None;
    }
    Some(Address {
        street: street.join(" "),
        number,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn street(s: &str) -> String {
        parse_address(s).expect("an address").street
    }

    #[test]
    fn references_compare_whatever_separates_their_groups() {
        for r in ["127-123", "127 123", "0127-0123", "127/123", " 127.123 "] {
            assert_eq!(normalise_ref(r), "127-123", "{r}");
        }
        assert_eq!(normalise_ref("1A-109"), "1a-109");
        assert_eq!(normalise_ref("000"), "0");
    }

    #[test]
    fn street_types_accents_and_ordinals_compare_equal() {
        assert_eq!(
            street("219 Monsignor O'Brien Highway"),
            "monsignor obrien hwy"
        );
        assert_eq!(street("219 MONSIGNOR OBRIEN HWY"), "monsignor obrien hwy");
        assert_eq!(street("20 Second Street"), street("20 2nd St."));
        assert_eq!(street("Avenida Central 123"), street("Av. Central Nº 123"));
        assert_eq!(street("Cra. 7 # 45-10"), "carrera 7");
        assert_eq!(street("Carrera 7 No. 45-10"), "carrera 7");
        assert_eq!(street("Kr 7 #45-10"), "carrera 7");
        assert_eq!(street("Calle Ñandú 12"), "calle nandu");
        assert_eq!(street("R. Augusta, 123"), "rua augusta");
        assert_eq!(street("Travessa do Carmo 4"), street("Tv. do Carmo 4"));
        assert_eq!(street("Praça da Figueira 1"), "praca da figueira");
    }

    #[test]
    fn numbers_ranges_and_units() {
        let a = parse_address("20 CHESTNUT ST #57").expect("parsed");
        assert_eq!(a.number.as_ref().map(|n| n.lo), Some(20));
        assert_eq!(a.unit.as_deref(), Some("57"));
        let r = parse_address("187-197 Harvey St").expect("parsed");
        let n = r.number.expect("a number");
        assert!(n.is_range() && n.covers(189) && !n.covers(190) && !n.covers(199));
        let b = parse_address("17B ROBERTS RD #17B").expect("parsed");
        assert_eq!(b.number.as_ref().map(|n| n.suffix.as_str()), Some("b"));
        assert_eq!(b.street, "roberts rd");
        let h = parse_address("38-38 1/2 ROBERTS RD").expect("parsed");
        assert_eq!(
            (h.street.as_str(), h.number.map(|n| n.lo)),
            ("roberts rd", Some(38))
        );
        let half = parse_address("58 1/2 SPRING ST").expect("parsed").number;
        assert_ne!(half, parse_address("58 SPRING ST").expect("parsed").number);
        let u = parse_address("Av. Central Nº 123 Apto 4").expect("parsed");
        assert_eq!(u.number.map(|n| n.lo), Some(123));
        assert_eq!(u.unit.as_deref(), Some("4"));
        let e = parse_address("45 Elm Street Apt 3").expect("parsed");
        assert_eq!(
            (e.street.as_str(), e.unit.as_deref()),
            ("elm st", Some("3"))
        );
        let c = parse_address("Calle 45 # 12-30 Int. 2").expect("parsed");
        assert_eq!(c.street, "calle 45");
        assert_eq!(c.number.map(|n| (n.lo, n.hi)), Some((12, 30)));
        assert!(parse_address("  ").is_none());
        assert!(parse_address("#12").is_none());
    }
}
