//! Deterministic, realistic contacts for the benchmarks: users and leads with names, emails on
//! free-mail and company domains (some with capitals), sign-up and last-seen dates spread over
//! years, and ten custom attributes of every type, some of them missing, as real data has.
//!
//! Contact number `i` is always the same contact, so two runs (and the JSON-lines file and the
//! in-memory generator) see identical data.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::ContactInput;
use tidings_store::Store;

pub const DAY: i64 = 86_400;

/// A small, fast, seedable generator (SplitMix64): benchmarks need reproducible data, not
/// cryptographic randomness.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
}

/// The custom attributes every benchmark workspace declares: name, type.
pub const ATTRIBUTES: &[(&str, DataType)] = &[
    ("plan", DataType::String),
    ("seats", DataType::Integer),
    ("mrr", DataType::Float),
    ("beta", DataType::Boolean),
    ("renewal_at", DataType::Date),
    ("company", DataType::String),
    ("industry", DataType::String),
    ("nps", DataType::Integer),
    ("onboarded", DataType::Boolean),
    ("referrer", DataType::String),
];

/// Declares [`ATTRIBUTES`] in a workspace and returns them as stored.
///
/// # Errors
/// A storage failure.
pub async fn declare_attributes(store: &Arc<dyn Store>, ws: i64, now: i64) -> Result<Vec<CustomAttribute>, String> {
    for (name, data_type) in ATTRIBUTES {
        let attr = CustomAttribute {
            id: 0,
            name: (*name).to_owned(),
            data_type: *data_type,
            label: (*name).to_owned(),
            description: None,
            options: Vec::new(),
            messenger_writable: false,
            archived: false,
            created_at: now,
            updated_at: now,
            admin_id: None,
        };
        store
            .create_custom_attribute(ws, &attr)
            .await
            .map_err(|e| format!("declaring custom attribute {name}: {e}"))?;
    }
    store.custom_attributes(ws).await.map_err(|e| e.to_string())
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Ana",
    "Luis",
    "Sofia",
    "Mateo",
    "Chloé",
    "Léa",
    "Hugo",
    "Yuki",
    "Hiro",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Olga",
    "Ivan",
    "Zoë",
    "Noah",
    "Emma",
    "Liam",
    "Mia",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Dubois",
    "Müller",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Sato",
    "Kumar",
    "Singh",
    "Khan",
    "Ivanova",
    "Novak",
];
const COMPANY_A: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Nakatomi",
    "Massive",
    "Blue",
    "Red",
    "North",
    "Bright",
    "Swift",
    "Cloud",
];
const COMPANY_B: &[&str] = &[
    "Labs",
    "Systems",
    "Corp",
    "Industries",
    "Works",
    "Digital",
    "Analytics",
    "Health",
    "Logistics",
    "Foods",
    "Media",
    "Capital",
    "Software",
    "Robotics",
    "Energy",
    "Studio",
];
const FREE_MAIL: &[&str] = &["yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me"];
const INDUSTRIES: &[&str] =
    &["saas", "ecommerce", "fintech", "healthcare", "education", "media", "logistics", "gaming", "nonprofit", "agency"];
const REFERRERS: &[&str] =
    &["google", "twitter", "linkedin", "producthunt", "partner", "newsletter", "podcast", "direct"];
const TIMEZONES: &[&str] = &[
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
];

/// Contacts per upsert while generating (the import's batch).
const BATCH: u64 = 5_000;

/// Writes `n` generated contacts through `upsert_contacts` (the import's write path), with a
/// progress bar; returns contacts per second. Contacts arrive over three years: each batch gets
/// its own creation time, as if imported or signed up then, so "newest first" walks a realistic
/// `created_at`.
///
/// # Errors
/// When the store fails or refuses a generated contact.
pub async fn generate(
    store: &Arc<dyn Store>,
    ws: i64,
    n: u64,
    now: i64,
    custom: &[CustomAttribute],
) -> Result<f64, String> {
    let bar = super::progress(n, "generating");
    let started = std::time::Instant::now();
    let batches = n.div_ceil(BATCH).max(1);
    let span = 3 * 365 * DAY;
    for b in 0..batches {
        let inputs: Vec<ContactInput> = (b * BATCH..((b + 1) * BATCH).min(n))
            .map(|i| ContactInput::parse(&contact(i, now), custom))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let at = now - span + span * (b as i64 + 1) / batches as i64;
        let report = store.upsert_contacts(ws, &inputs, at).await.map_err(|e| e.to_string())?;
        if !report.rejected.is_empty() {
            return Err(format!("generated contacts were rejected: {:?}", report.rejected.first()));
        }
        bar.inc(inputs.len() as u64);
    }
    bar.finish_and_clear();
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Contact number `i` as the JSON an import line (or an API call) carries. `now` anchors the
/// dates: sign-ups over the last four years, last-seen skewed to recent days.
pub fn contact(i: u64, now: i64) -> Map<String, Json> {
    let mut r = Rng::new(i.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x0074_6964_696e_6773);
    let mut c = Map::new();
    let lead = r.chance(0.10);
    let first = r.pick(FIRST);
    let last = r.pick(LAST);
    let company = format!("{} {}", r.pick(COMPANY_A), r.pick(COMPANY_B));
    let domain = if r.chance(0.30) {
        "gmail.com".to_owned()
    } else if r.chance(0.35) {
        r.pick(FREE_MAIL).to_owned()
    } else {
        format!("{}.com", company.to_ascii_lowercase().replace(' ', ""))
    };
    let local = format!("{}.{}{i}", ascii(first), ascii(last));
    // Some people type their address with capitals; search must still find them.
    let email = if r.chance(0.05) {
        let mut e = format!("{local}@{domain}");
        if let Some(head) = e.get_mut(..1) {
            head.make_ascii_uppercase();
        }
        e.replace("@gmail", "@Gmail")
    } else {
        format!("{local}@{domain}").to_ascii_lowercase()
    };
    if lead {
        c.insert("role".into(), json!("lead"));
    } else {
        c.insert("external_id".into(), json!(format!("usr_{i}")));
    }
    c.insert("email".into(), json!(email));
    if !r.chance(0.03) {
        c.insert("name".into(), json!(format!("{first} {last}")));
    }
    if r.chance(0.30) {
        c.insert("phone".into(), json!(format!("+1555{:07}", i % 10_000_000)));
    }
    let signed_up = now - r.between(0, 4 * 365 * DAY);
    if !lead && !r.chance(0.02) {
        c.insert("signed_up_at".into(), json!(signed_up));
    }
    if !r.chance(0.05) {
        // A fifth were here this week, a third in the last three months, the rest earlier.
        let age = match r.below(100) {
            0..20 => r.between(0, 7 * DAY),
            20..50 => r.between(7 * DAY, 90 * DAY),
            _ => r.between(90 * DAY, 4 * 365 * DAY),
        };
        c.insert("last_seen_at".into(), json!((now - age).max(signed_up)));
    }
    if r.chance(0.05) {
        c.insert("unsubscribed_from_emails".into(), json!(true));
    }
    if r.chance(0.40) {
        c.insert("timezone".into(), json!(r.pick(TIMEZONES)));
    }

    let mut custom = Map::new();
    let plan = match r.below(100) {
        0..65 => "free",
        65..90 => "pro",
        _ => "team",
    };
    custom.insert("plan".into(), json!(plan));
    let seats = if plan == "free" { 1 } else { r.between(1, 200) };
    custom.insert("seats".into(), json!(seats));
    let per_seat = match plan {
        "pro" => 15.0,
        "team" => 24.5,
        _ => 0.0,
    };
    custom.insert("mrr".into(), json!(seats as f64 * per_seat));
    if r.chance(0.80) {
        custom.insert("beta".into(), json!(r.chance(0.15)));
    }
    if plan != "free" {
        custom.insert("renewal_at".into(), json!(now + r.between(0, 365 * DAY)));
    }
    if r.chance(0.70) {
        custom.insert("company".into(), json!(company));
    }
    if r.chance(0.60) {
        custom.insert("industry".into(), json!(r.pick(INDUSTRIES)));
    }
    if r.chance(0.40) {
        custom.insert("nps".into(), json!(r.below(11)));
    }
    custom.insert("onboarded".into(), json!(r.chance(0.70)));
    if r.chance(0.50) {
        custom.insert("referrer".into(), json!(r.pick(REFERRERS)));
    }
    c.insert("custom_attributes".into(), Json::Object(custom));
    c
}

/// An ASCII stand-in for a name in an email address (`Chloé` → `chloe`).
fn ascii(name: &str) -> String {
    name.chars()
        .map(|ch| match ch {
            'é' | 'è' | 'ë' => 'e',
            'ü' => 'u',
            'ö' => 'o',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Tags applied to a share of the contacts, in thousandths, with a multiplier that spreads each
/// tag over different contacts. The first is the one search (c) looks for.
pub const TAGS: &[(&str, i64, i64)] =
    &[("vip", 50, 2_654_435_761), ("newsletter", 200, 40_503), ("churn-risk", 30, 2_246_822_519)];

/// Tags a share of the workspace's contacts with one statement per tag. Test data only: the
/// product tags contacts one call at a time.
///
/// # Errors
/// A storage failure.
pub async fn tag_contacts(store: &Arc<dyn Store>, ws: i64, now: i64) -> Result<Vec<(String, i64, u64)>, String> {
    let mut out = Vec::new();
    for (name, permille, mult) in TAGS {
        let tag = store.create_tag(ws, name, now).await.map_err(|e| e.to_string())?;
        let n = store
            .execute_raw(&format!(
                "INSERT INTO contact_tags (contact_id, tag_id, workspace_id, applied_at) \
                 SELECT id, {}, workspace_id, {now} FROM contacts \
                 WHERE workspace_id = {ws} AND (id * {mult}) % 1000 < {permille}",
                tag.id
            ))
            .await
            .map_err(|e| e.to_string())?;
        out.push(((*name).to_owned(), tag.id, n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_core::contact::ContactInput;

    #[test]
    fn generated_contacts_are_valid_and_reproducible() {
        let custom: Vec<CustomAttribute> = ATTRIBUTES
            .iter()
            .enumerate()
            .map(|(i, (name, t))| CustomAttribute {
                id: i as i64 + 1,
                name: (*name).to_owned(),
                data_type: *t,
                label: (*name).to_owned(),
                description: None,
                options: vec![],
                messenger_writable: false,
                archived: false,
                created_at: 0,
                updated_at: 0,
                admin_id: None,
            })
            .collect();
        let now = 1_750_000_000;
        for i in 0..2_000 {
            let c = contact(i, now);
            assert_eq!(c, contact(i, now));
            let input = ContactInput::parse(&c, &custom).expect("a valid contact");
            assert!(input.has_identity());
        }
    }
}
