//! The inputs: surfaces, actions, matches, parties and the scan context.

use crate::dsa::{self, Category, ContentType};
use crate::Error;
use serde::{Deserialize, Serialize};

/// Where content is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// One-to-one message.
    Direct,
    /// Group conversation.
    Group,
    /// Public post.
    Public,
}

impl Surface {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Direct => "direct",
            Surface::Group => "group",
            Surface::Public => "public",
        }
    }
}

/// What happens to content for one audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delivered as asked.
    Deliver,
    /// Not delivered in some jurisdictions.
    Withhold,
    /// Removed at source: delivered to nobody.
    Block,
    /// Not delivered until a person has reviewed it.
    HoldForReview,
}

/// Severity for combining: block 3 > withhold 2 > hold_for_review 1 > deliver 0.
pub fn severity(action: Action) -> u8 {
    match action {
        Action::Deliver => 0,
        Action::HoldForReview => 1,
        Action::Withhold => 2,
        Action::Block => 3,
    }
}

impl Action {
    /// The more severe of the two (`self` on a tie, which only happens when they are equal).
    pub fn combine(self, other: Action) -> Action {
        if severity(other) > severity(self) {
            other
        } else {
            self
        }
    }

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Withhold => "withhold",
            Action::Block => "block",
            Action::HoldForReview => "hold_for_review",
        }
    }
}

/// What makes a policy act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A match in one of its banks or categories (the default).
    #[default]
    Match,
    /// Content Candor could not hash (refused by a hard bound, undecodable): it cannot be checked
    /// against any bank, so a published rule decides it instead of silent delivery.
    Unhashable,
}

impl Trigger {
    /// Whether this is the default, [`Trigger::Match`].
    pub fn is_match(&self) -> bool {
        *self == Trigger::Match
    }

    /// The TOML/JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Match => "match",
            Trigger::Unhashable => "unhashable",
        }
    }
}

/// What Candor found about the content of one scan: the input of [`crate::evaluate_with`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanFacts {
    /// Signals found in banks (may be empty).
    #[serde(default)]
    pub matches: Vec<Match>,
    /// Set when the content could not be hashed: why, in words (1..=500 characters), e.g.
    /// "the image is 30000 × 30000 pixels, above the 10000-pixel bound". Exact digests of the
    /// bytes may still have matched (`matches`).
    #[serde(default)]
    pub unhashable: Option<String>,
}

/// The longest `unhashable` reason.
pub const MAX_UNHASHABLE_REASON: usize = 500;

pub(crate) fn check_unhashable(reason: Option<&str>) -> Result<(), Error> {
    match reason {
        Some(r) if r.trim().is_empty() || r.chars().count() > MAX_UNHASHABLE_REASON => {
            Err(Error::BadContext(format!(
                "the unhashable reason must be 1..={MAX_UNHASHABLE_REASON} characters"
            )))
        }
        _ => Ok(()),
    }
}

/// The kind of signal that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalType {
    /// 256-bit perceptual hash (Hamming distance).
    Pdq,
    /// MD5 digest (exact).
    Md5,
    /// SHA-256 digest (exact).
    Sha256,
    /// SHA-1 digest (exact; NCMEC's lists carry it).
    Sha1,
}

impl SignalType {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalType::Pdq => "pdq",
            SignalType::Md5 => "md5",
            SignalType::Sha256 => "sha256",
            SignalType::Sha1 => "sha1",
        }
    }
}

/// One query signal found in a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Bank name.
    pub bank: String,
    /// The bank's category.
    pub bank_category: Category,
    /// Bank entry id.
    pub content_id: String,
    /// Which signal matched.
    pub signal: SignalType,
    /// Hamming distance for PDQ; 0 for exact signals.
    pub distance: u32,
    /// Dihedral orientation of the query that matched (`orig`, `rot90`, …), if any.
    #[serde(default)]
    pub orientation: Option<String>,
    /// Whether the trimmed (border removed) hash matched.
    #[serde(default)]
    pub trimmed: bool,
}

impl Match {
    /// Checks the match is well formed (exact signals at distance 0, PDQ ≤ 256).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: &str| {
            Err(Error::BadMatch(format!(
                "{}/{}: {why}",
                self.bank, self.content_id
            )))
        };
        if self.bank.is_empty() || self.bank.len() > 256 {
            return bad("bank must be 1..=256 bytes");
        }
        if self.content_id.is_empty() || self.content_id.len() > 256 {
            return bad("content_id must be 1..=256 bytes");
        }
        match self.signal {
            SignalType::Pdq if self.distance > 256 => bad("PDQ distance above 256"),
            SignalType::Md5 | SignalType::Sha1 | SignalType::Sha256 if self.distance != 0 => {
                bad("exact signals match at distance 0")
            }
            _ => Ok(()),
        }
    }
}

/// An account and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The platform's account id (opaque, 1..=256 bytes).
    pub account: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub jurisdiction: String,
}

/// "Everyone in these jurisdictions" (public posts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// ISO 3166-1 alpha-2 codes, upper case.
    pub jurisdictions: Vec<String>,
}

/// The most recipients one scan may name.
pub const MAX_RECIPIENTS: usize = 10_000;
/// The longest account id.
pub const MAX_ACCOUNT_LEN: usize = 256;

/// What a platform tells us about one share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanContext {
    /// Where it is shared.
    pub surface: Surface,
    /// The platform's id of the content: the statement's `puid` (API: `[A-Za-z0-9_-]`, ≤ 500).
    pub content_id: String,
    /// The API's content type.
    pub content_type: ContentType,
    /// Required when `content_type` is `CONTENT_TYPE_OTHER` (≤ 500 characters).
    #[serde(default)]
    pub content_type_other: Option<String>,
    /// Upload or posting date, `YYYY-MM-DD` (API: ≥ 2000-01-01). When absent the statement uses the
    /// application date: the content is scanned as it is shared.
    #[serde(default)]
    pub content_date: Option<String>,
    /// Who shares it.
    pub sender: Party,
    /// Named recipients (direct and group).
    #[serde(default)]
    pub recipients: Vec<Party>,
    /// Everyone in some jurisdictions (public).
    #[serde(default)]
    pub audience: Option<Audience>,
}

pub(crate) fn check_jurisdiction(code: &str, what: &str) -> Result<(), Error> {
    if dsa::is_iso_country(code) {
        Ok(())
    } else {
        Err(Error::BadJurisdiction {
            context: what.to_string(),
            code: code.to_string(),
        })
    }
}

fn check_party(p: &Party, what: &str) -> Result<(), Error> {
    if p.account.is_empty() || p.account.len() > MAX_ACCOUNT_LEN {
        return Err(Error::BadContext(format!(
            "{what} account id must be 1..=256 bytes"
        )));
    }
    check_jurisdiction(&p.jurisdiction, what)
}

impl ScanContext {
    /// Checks the context: at least one recipient or an audience with ≥ 1 jurisdiction, at most
    /// [`MAX_RECIPIENTS`], account ids 1..=256 bytes, ISO jurisdictions, a valid `puid` and dates.
    pub fn validate(&self) -> Result<(), Error> {
        let c = &self.content_id;
        if c.is_empty()
            || c.len() > dsa::limits::PUID
            || !c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::BadContext(
                "content_id must be 1..=500 characters of A-Z a-z 0-9 - _ (the DSA puid)".into(),
            ));
        }
        match (&self.content_type, &self.content_type_other) {
            (ContentType::Other, Some(t)) if !t.trim().is_empty() && t.chars().count() <= 500 => {}
            (ContentType::Other, _) => {
                return Err(Error::BadContext(
                    "content_type_other (1..=500 characters) is required for CONTENT_TYPE_OTHER"
                        .into(),
                ))
            }
            (_, Some(_)) => {
                return Err(Error::BadContext(
                    "content_type_other is only allowed with CONTENT_TYPE_OTHER".into(),
                ))
            }
            _ => {}
        }
        if let Some(d) = &self.content_date {
            if !crate::date::is_date(d) || d.as_str() < "2000-01-01" {
                return Err(Error::BadContext(format!(
                    "content_date {d:?} must be YYYY-MM-DD, on or after 2000-01-01"
                )));
            }
        }
        check_party(&self.sender, "sender")?;
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(Error::BadContext(format!(
                "{} recipients, at most {MAX_RECIPIENTS}",
                self.recipients.len()
            )));
        }
        for r in &self.recipients {
            check_party(r, "recipient")?;
        }
        let audience = self.audience.as_ref().map_or(0, |a| a.jurisdictions.len());
        if let Some(a) = &self.audience {
            if a.jurisdictions.len() > 300 {
                return Err(Error::BadContext(
                    "audience lists more than 300 jurisdictions".into(),
                ));
            }
            for j in &a.jurisdictions {
                check_jurisdiction(j, "audience")?;
            }
        }
        if self.recipients.is_empty() && audience == 0 {
            return Err(Error::BadContext(
                "a scan needs at least one recipient or an audience with a jurisdiction".into(),
            ));
        }
        Ok(())
    }
}
