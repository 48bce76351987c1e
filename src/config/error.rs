use std::fmt;

/// Why a configuration was rejected.
///
/// Every variant names what was wrong and the value found, so the message
/// alone is enough to fix the input. A rejected configuration is never
/// installed: the engine keeps the last good one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Env {
        /// The variable, e.g. `CHAOS_FAILURE_RATE`.
        var: &'static str,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of a rule has a value that cannot be used.
    #[error("rule {rule}: field `{field}` = {value}: {reason}")]
    Field {
        /// The rule, as `#index "name"`.
        rule: RuleRef,
        /// The field, e.g. `abort.percentage`.
        field: String,
        /// The value found, as written in the configuration.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A top-level field has a value that cannot be used.
    #[error("field `{field}` = {value}: {reason}")]
    Global {
        /// The field, e.g. `seed`.
        field: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration file or text could not be parsed.
    #[error("cannot parse {source_name}: {message}")]
    Parse {
        /// Where the text came from (a file path, or the format).
        source_name: String,
        /// The parser's message, with the position and field where known.
        message: String,
    },
}

/// Identifies a rule in an error: its position and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    /// Zero-based position in `rules`.
    pub index: usize,
    /// The rule's name (possibly empty, which is itself an error).
    pub name: String,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {:?}", self.index, self.name)
    }
}

impl ConfigError {
    pub(crate) fn field(
        index: usize,
        name: &str,
        field: impl Into<String>,
        value: impl fmt::Debug,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError::Field {
            rule: RuleRef { index, name: name.to_owned() },
            field: field.into(),
            value: format!("{value:?}"),
            reason: reason.into(),
        }
    }
}
