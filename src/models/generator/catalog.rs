//! The generator's fixed shop: products and customers derived from their
//! index alone, so every seed shares one catalog (a shop has one catalog and
//! many order files).

use crate::models::prng::mix;

const ADJECTIVES: [&str; 24] = [
    "Wireless",
    "Compact",
    "Smart",
    "Classic",
    "Ultra",
    "Portable",
    "Ergonomic",
    "Premium",
    "Mini",
    "Pro",
    "Silent",
    "Rugged",
    "Slim",
    "Digital",
    "Solar",
    "Magnetic",
    "Foldable",
    "Turbo",
    "Eco",
    "Retro",
    "Modular",
    "Bright",
    "Dual",
    "Quick",
];

const NOUNS: [&str; 32] = [
    "Keyboard",
    "Mouse",
    "Monitor",
    "Headphones",
    "Speaker",
    "Charger",
    "Cable",
    "Webcam",
    "Microphone",
    "Router",
    "Lamp",
    "Backpack",
    "Tablet",
    "Stand",
    "Dock",
    "Drive",
    "Printer",
    "Projector",
    "Watch",
    "Camera",
    "Drone",
    "Kettle",
    "Blender",
    "Thermostat",
    "Doorbell",
    "Scale",
    "Fan",
    "Heater",
    "Toaster",
    "Controller",
    "Hub",
    "Adapter",
];

const FIRST_NAMES: [&str; 32] = [
    "Jane", "John", "Mila", "Omar", "Lena", "Noah", "Ava", "Liam", "Sofia", "Yuki", "Pedro",
    "Amara", "Ivan", "Chloe", "Ravi", "Elena", "Tom", "Nina", "Kofi", "Sara", "Leo", "Maya",
    "Hugo", "Zoe", "Arjun", "Ines", "Finn", "Lara", "Emil", "Hana", "Owen", "Rosa",
];

const LAST_NAMES: [&str; 32] = [
    "Doe", "Smith", "Chan", "Haddad", "Novak", "Garcia", "Muller", "Rossi", "Kowalski", "Tanaka",
    "Silva", "Okafor", "Petrov", "Martin", "Patel", "Costa", "Brown", "Berg", "Mensah", "Cohen",
    "Dubois", "Kim", "Larsen", "Moreau", "Singh", "Ferreira", "Walsh", "Ortiz", "Nagy", "Sato",
    "Evans", "Lopez",
];

/// Index of a word in a list from a hash (integer math, no bias concerns).
fn pick(list: &[&'static str], hash: u64) -> &'static str {
    let len = list.len() as u64;
    list[usize::try_from(hash % len).unwrap_or(0)]
}

/// A product of the generated shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// 1-based number: sku `SKU-{number:06}`, name ends with it.
    pub number: u64,
    /// First word of the name.
    pub adjective: &'static str,
    /// Second word of the name.
    pub noun: &'static str,
    /// 1.00–999.99, mostly cheaper items, usually ending in .99/.49/.95/.00.
    pub price_cents: i64,
}

impl Product {
    /// The product at `index` (0-based).
    #[must_use]
    pub fn at(index: u64) -> Self {
        let h = mix(index ^ 0x5052_4F44_5543_5453);
        // u^2 skew toward cheap items, in integer math: dollars in 1..=999.
        let u = (h >> 44) & 0xF_FFFF; // 20 bits
        let dollars = 1 + i64::try_from((998 * u * u) >> 40).unwrap_or(0);
        let cents = [99, 99, 49, 95, 0][usize::try_from((h >> 8) % 5).unwrap_or(0)];
        Self {
            number: index + 1,
            adjective: pick(&ADJECTIVES, h),
            noun: pick(&NOUNS, h >> 16),
            price_cents: dollars * 100 + cents,
        }
    }
}

/// A customer of the generated shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Customer {
    /// 1-based number: id `CUST-{number:06}`.
    pub number: u64,
    /// Given name.
    pub first: &'static str,
    /// Family name.
    pub last: &'static str,
}

impl Customer {
    /// The customer at `index` (0-based).
    #[must_use]
    pub fn at(index: u64) -> Self {
        let h = mix(index ^ 0x4355_5354_4F4D_4552);
        Self {
            number: index + 1,
            first: pick(&FIRST_NAMES, h),
            last: pick(&LAST_NAMES, h >> 16),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_need_no_csv_or_json_quoting() {
        for word in ADJECTIVES
            .iter()
            .chain(&NOUNS)
            .chain(&FIRST_NAMES)
            .chain(&LAST_NAMES)
        {
            assert!(word.bytes().all(|b| b.is_ascii_alphabetic()), "{word}");
        }
    }

    #[test]
    fn prices_stay_in_range_and_are_stable() {
        for index in 0..10_000 {
            let product = Product::at(index);
            assert!((100..=99_999).contains(&product.price_cents), "{product:?}");
            assert_eq!(product, Product::at(index));
        }
        assert_eq!(Customer::at(5), Customer::at(5));
    }
}
