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
    /// A configuration file could not be read: it is missing, unreadable,
    /// a directory, or implausibly large.
    #[error("cannot read {path}: {message}")]
    #[non_exhaustive]
    Read {
        /// The file, as given.
        path: String,
        /// Why (the operating system's message, e.g. "No such file or directory").
        message: String,
        /// The operating system's error kind, when it failed
        /// (`NotFound` lets a caller treat a missing file as optional).
        kind: Option<std::io::ErrorKind>,
    },
    /// A configuration file parsed, but a value in it is invalid: `error`
    /// names the rule, the field and the value.
    #[error("{path}: {error}")]
    File {
        /// The file, as given.
        path: String,
        /// What is wrong with its content.
        error: Box<ConfigError>,
    },
}

/// Identifies a rule in an error: its position and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// A file that could not be read, for the operating system's `error`.
    pub(crate) fn read(path: &std::path::Path, error: &std::io::Error) -> Self {
        ConfigError::Read { path: path.display().to_string(), message: error.to_string(), kind: Some(error.kind()) }
    }

    /// A file refused before reading it all (not a regular file, too large).
    pub(crate) fn refused(path: &std::path::Path, message: impl Into<String>) -> Self {
        ConfigError::Read { path: path.display().to_string(), message: message.into(), kind: None }
    }

    /// Wraps a validation error of a file's content with the file's path.
    pub(crate) fn in_file(path: &std::path::Path, error: ConfigError) -> Self {
        ConfigError::File { path: path.display().to_string(), error: Box::new(error) }
    }

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
