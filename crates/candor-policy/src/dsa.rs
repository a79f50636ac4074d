//! The EU DSA Transparency Database vocabulary: field values exactly as the statement-of-reasons API
//! spells them.
//!
//! Sources (checked 2026-11):
//! - API documentation: <https://transparency.dsa.ec.europa.eu/page/api-documentation>, whose source is
//!   `resources/views/api.blade.php`-style markdown in
//!   <https://github.com/digital-services-act/transparency-database> (categories listed verbatim there,
//!   the 16 values of the 2025 taxonomy);
//! - the enum constants of `app/Models/Statement.php` in the same repository (decision visibility,
//!   content type, automated decision, source type, decision ground);
//! - `app/Services/EuropeanCountriesService.php` (the allowed `territorial_scope` codes: EU + EEA).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! api_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $var),+
        }
        impl $name {
            /// Every allowed value, in the API documentation's order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The value as the API spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

api_enum! {
    /// `category`: the statement category (the 2025 taxonomy, as listed in the API documentation
    /// <https://transparency.dsa.ec.europa.eu/page/api-documentation>, "Category (category)").
    /// Child sexual abuse material is `STATEMENT_CATEGORY_PROTECTION_OF_MINORS` (keyword
    /// `KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL`); terrorist content is
    /// `STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY` (keyword `KEYWORD_TERRORIST_CONTENT`).
    Category {
        AnimalWelfare = "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        ConsumerInformation = "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
        CyberViolence = "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        CyberViolenceAgainstWomen = "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
        DataProtectionAndPrivacyViolations = "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        IllegalOrHarmfulSpeech = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        IntellectualPropertyInfringements = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        NegativeEffectsOnCivicDiscourseOrElections = "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        NotSpecifiedNotice = "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
        OtherViolationTc = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        ProtectionOfMinors = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        RiskForPublicSecurity = "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        ScamsAndFraud = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        SelfHarm = "STATEMENT_CATEGORY_SELF_HARM",
        UnsafeAndProhibitedProducts = "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
        Violence = "STATEMENT_CATEGORY_VIOLENCE",
    }
}

impl Category {
    /// The API documentation's label, for notices.
    pub fn label(self) -> &'static str {
        match self {
            Category::AnimalWelfare => "animal welfare",
            Category::ConsumerInformation => "consumer information infringements",
            Category::CyberViolence => "cyber violence",
            Category::CyberViolenceAgainstWomen => "cyber violence against women",
            Category::DataProtectionAndPrivacyViolations => {
                "data protection and privacy violations"
            }
            Category::IllegalOrHarmfulSpeech => "illegal or harmful speech",
            Category::IntellectualPropertyInfringements => "intellectual property infringements",
            Category::NegativeEffectsOnCivicDiscourseOrElections => {
                "negative effects on civic discourse or elections"
            }
            Category::NotSpecifiedNotice => "type of content not specified",
            Category::OtherViolationTc => "other violation of the terms and conditions",
            Category::ProtectionOfMinors => "protection of minors",
            Category::RiskForPublicSecurity => "risk for public security",
            Category::ScamsAndFraud => "scams and/or fraud",
            Category::SelfHarm => "self-harm",
            Category::UnsafeAndProhibitedProducts => "unsafe, non-compliant or prohibited products",
            Category::Violence => "violence",
        }
    }
}

api_enum! {
    /// `content_type` (an array in the API; we send one value). `CONTENT_TYPE_OTHER` requires
    /// `content_type_other` (≤ 500 characters).
    ContentType {
        App = "CONTENT_TYPE_APP",
        Audio = "CONTENT_TYPE_AUDIO",
        Image = "CONTENT_TYPE_IMAGE",
        Product = "CONTENT_TYPE_PRODUCT",
        SyntheticMedia = "CONTENT_TYPE_SYNTHETIC_MEDIA",
        Text = "CONTENT_TYPE_TEXT",
        Video = "CONTENT_TYPE_VIDEO",
        Other = "CONTENT_TYPE_OTHER",
    }
}

impl ContentType {
    /// A plain noun for notices ("Your image was …").
    pub fn noun(self) -> &'static str {
        match self {
            ContentType::App => "app",
            ContentType::Audio => "audio file",
            ContentType::Image => "image",
            ContentType::Product => "product listing",
            ContentType::SyntheticMedia => "media file",
            ContentType::Text => "text",
            ContentType::Video => "video",
            ContentType::Other => "file",
        }
    }
}

api_enum! {
    /// `decision_visibility` (array). `DECISION_VISIBILITY_OTHER` requires
    /// `decision_visibility_other` (≤ 500 characters).
    DecisionVisibility {
        ContentRemoved = "DECISION_VISIBILITY_CONTENT_REMOVED",
        ContentDisabled = "DECISION_VISIBILITY_CONTENT_DISABLED",
        ContentDemoted = "DECISION_VISIBILITY_CONTENT_DEMOTED",
        ContentAgeRestricted = "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        ContentInteractionRestricted = "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        ContentLabelled = "DECISION_VISIBILITY_CONTENT_LABELLED",
        Other = "DECISION_VISIBILITY_OTHER",
    }
}

api_enum! {
    /// `decision_ground`. Illegal content requires `illegal_content_legal_ground` (≤ 500) and
    /// `illegal_content_explanation` (≤ 2000); incompatible content requires
    /// `incompatible_content_ground` (≤ 500) and `incompatible_content_explanation` (≤ 2000).
    DecisionGround {
        IllegalContent = "DECISION_GROUND_ILLEGAL_CONTENT",
        IncompatibleContent = "DECISION_GROUND_INCOMPATIBLE_CONTENT",
    }
}

api_enum! {
    /// `automated_decision` (required).
    AutomatedDecision {
        Fully = "AUTOMATED_DECISION_FULLY",
        Partially = "AUTOMATED_DECISION_PARTIALLY",
        NotAutomated = "AUTOMATED_DECISION_NOT_AUTOMATED",
    }
}

api_enum! {
    /// `automated_detection` (required): the API spells it `"Yes"` / `"No"`.
    AutomatedDetection {
        Yes = "Yes",
        No = "No",
    }
}

api_enum! {
    /// `source_type` (required). Hash matching against banks is the platform's own initiative.
    SourceType {
        Article16 = "SOURCE_ARTICLE_16",
        TrustedFlagger = "SOURCE_TRUSTED_FLAGGER",
        OtherNotification = "SOURCE_TYPE_OTHER_NOTIFICATION",
        Voluntary = "SOURCE_VOLUNTARY",
    }
}

/// The codes the API accepts in `territorial_scope`: EU member states plus the EEA (IS, LI, NO).
pub const DSA_TERRITORIAL_SCOPE_CODES: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Whether `code` may appear in the API's `territorial_scope`.
pub fn in_dsa_scope(code: &str) -> bool {
    DSA_TERRITORIAL_SCOPE_CODES.contains(&code)
}

/// Field length limits from the API documentation.
pub mod limits {
    /// `decision_facts`.
    pub const DECISION_FACTS: usize = 5000;
    /// `illegal_content_legal_ground`, `incompatible_content_ground`.
    pub const GROUND: usize = 500;
    /// `illegal_content_explanation`, `incompatible_content_explanation`.
    pub const EXPLANATION: usize = 2000;
    /// `decision_visibility_other`, `content_type_other`.
    pub const OTHER: usize = 500;
    /// `puid`.
    pub const PUID: usize = 500;
}

/// ISO 3166-1 alpha-2 officially assigned codes (249).
const ISO_3166_ALPHA2: &str = "\
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Every assigned ISO 3166-1 alpha-2 code, in alphabetical order.
pub fn iso_countries() -> impl Iterator<Item = &'static str> {
    ISO_3166_ALPHA2.split(' ')
}

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code, in upper case.
pub fn is_iso_country(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && ISO_3166_ALPHA2.split(' ').any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_list_is_complete_and_sorted() {
        let codes: Vec<&str> = ISO_3166_ALPHA2.split(' ').collect();
        assert_eq!(codes.len(), 249);
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, codes);
        for c in DSA_TERRITORIAL_SCOPE_CODES {
            assert!(is_iso_country(c), "{c}");
        }
        assert!(!is_iso_country("de"));
        assert!(!is_iso_country("XX"));
        assert!(!is_iso_country("EU"));
    }

    #[test]
    fn enums_serialize_as_api_spells_them() {
        for c in Category::ALL {
            let j = serde_json::to_string(c).unwrap();
            assert_eq!(j, format!("\"{}\"", c.as_str()));
            assert!(c.as_str().starts_with("STATEMENT_CATEGORY_"));
            let back: Category = serde_json::from_str(&j).unwrap();
            assert_eq!(back, *c);
        }
        assert_eq!(Category::ALL.len(), 16);
        assert_eq!(
            serde_json::to_string(&AutomatedDetection::Yes).unwrap(),
            "\"Yes\""
        );
        assert!(serde_json::from_str::<Category>("\"STATEMENT_CATEGORY_PIRACY\"").is_err());
    }
}
