//! What a lookup ends with: found (with the raw JSON), not found, or failed (retryable or not).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::model::Network;
use crate::registry::Registry;

/// What one lookup ended with.
// One value per HTTP lookup, moved, not stored in bulk: the size difference does not matter and
// a boxed network would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LookupOutcome {
    /// A network was answered.
    Found {
        /// The normalized network (`registry` and `source_url` from the final URL).
        network: Network,
        /// The raw RDAP JSON, verbatim.
        raw: Box<RawValue>,
        /// Redirects followed.
        redirects: u32,
        /// The registry that finally answered.
        registry: Option<Registry>,
        /// The URL that finally answered.
        url: String,
    },
    /// The registry has no network for the address (404).
    NotFound {
        /// The registry that answered.
        registry: Option<Registry>,
        /// Redirects followed.
        redirects: u32,
        /// The URL that answered.
        url: String,
    },
    /// No answer could be had.
    Failed {
        /// Why, for people.
        reason: String,
        /// Whether asking again later may succeed (rate limits, 5xx, timeouts, open circuit).
        retryable: bool,
        /// The registry involved last.
        registry: Option<Registry>,
    },
}

impl LookupOutcome {
    /// The registry this outcome is attributed to.
    pub fn registry(&self) -> Option<Registry> {
        match self {
            LookupOutcome::Found { registry, .. }
            | LookupOutcome::NotFound { registry, .. }
            | LookupOutcome::Failed { registry, .. } => *registry,
        }
    }
}
