//! Configuration files: TOML, YAML and JSON, one schema, chosen by extension.
//!
//! A file holds exactly what a [`Config`] holds (the same field names in
//! every format). Reading one is strict, because a file is usually edited
//! while a service runs and a bad edit must not turn chaos off by accident:
//!
//! - the format comes from the extension (`.toml`, `.yaml`/`.yml`, `.json`);
//! - an empty file, a file that is not UTF-8 and a file without a `rules` key
//!   are errors (they are what a truncated or half-written file looks like;
//!   write `rules = []` to mean "no rules");
//! - an unknown field, a value of the wrong type or an invalid value is an
//!   error that names the file, the field (as a path such as
//!   `rules[0].abort.status`) and the value.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "toml")] {
//! use mischief::config::{Config, Format};
//!
//! let config = Config::parse(
//!     r#"
//!     [[rules]]
//!     name = "flaky-orders"
//!     match = { path = { prefix = "/orders" } }
//!     abort = { status = 503, percentage = 5 }
//!     "#,
//!     Format::Toml,
//! )?;
//! config.validate()?;
//! assert_eq!(config.rules[0].name, "flaky-orders");
//!
//! let err = Config::parse("[[rules]]\nname = \"x\"\nabort = { status = \"teapot\" }", Format::Toml).unwrap_err();
//! assert!(err.to_string().contains("rules[0].abort.status"), "{err}");
//! # }
//! # Ok::<(), mischief::ConfigError>(())
//! ```

use std::fmt;
use std::io::Read;
use std::path::Path;

use super::{Config, ConfigError};
use crate::Chaos;

/// Files larger than this are refused (a config file is a few kilobytes).
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The format of a configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// TOML (`.toml`); needs the `toml` feature.
    Toml,
    /// YAML (`.yaml`, `.yml`); needs the `yaml` feature.
    Yaml,
    /// JSON (`.json`); needs the `json` feature.
    Json,
}

impl Format {
    /// The format a path's extension names (case-insensitive).
    ///
    /// ```
    /// use mischief::config::Format;
    /// assert_eq!(Format::from_path("/etc/chaos/chaos.YML".as_ref()).unwrap(), Format::Yaml);
    /// assert!(Format::from_path("chaos.ini".as_ref()).is_err());
    /// ```
    pub fn from_path(path: &Path) -> Result<Format, ConfigError> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("toml") => Ok(Format::Toml),
            Some("yaml" | "yml") => Ok(Format::Yaml),
            Some("json") => Ok(Format::Json),
            other => Err(ConfigError::Parse {
                source_name: path.display().to_string(),
                message: format!(
                    "unsupported extension {}: use .toml, .yaml, .yml or .json",
                    other.map_or_else(|| "(none)".to_owned(), |e| format!("{e:?}"))
                ),
            }),
        }
    }

    /// The format's name: `TOML`, `YAML` or `JSON`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        }
    }

    /// The Cargo feature that compiles this format in.
    fn feature(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }

    /// Is support for this format compiled in?
    pub const fn is_available(self) -> bool {
        match self {
            Format::Toml => cfg!(feature = "toml"),
            Format::Yaml => cfg!(feature = "yaml"),
            Format::Json => cfg!(feature = "json"),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Config {
    /// Reads, parses and validates a configuration file, choosing the format
    /// by extension (see [`Format::from_path`]). Each format needs its
    /// feature (`toml`, `yaml`, `json`; `reload` turns on all three): a file
    /// in a format not compiled in is an error saying which feature to turn
    /// on.
    ///
    /// Every error names the file: [`ConfigError::Read`] when it cannot be
    /// read, [`ConfigError::Parse`] (with the field's path and the position)
    /// when it is not a valid configuration document, and
    /// [`ConfigError::File`] around the validation error (rule, field and
    /// value) when a value is out of range.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        let config = parse_file(path, &bytes)?;
        config.validate().map_err(|e| ConfigError::in_file(path, e))?;
        Ok(config)
    }

    /// Parses a configuration document in `format` (it is not validated:
    /// see [`validate`](Self::validate)).
    ///
    /// Errors are [`ConfigError::Parse`] with the format's name as the
    /// source and the field's path (`rules[1].delay.fixed`) in the message.
    pub fn parse(text: &str, format: Format) -> Result<Config, ConfigError> {
        parse_text(text, format)
            .map_err(|message| ConfigError::Parse { source_name: format.name().to_owned(), message })
    }

    /// Checks every rule as [`Chaos::update`](crate::Chaos::update) would,
    /// without installing anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::engine::validate(self)
    }
}

/// Reads `path` and installs its configuration in `chaos`, the seed falling
/// back to `seed`. Returns the hash of the content and the generation it
/// was installed as. An error is also kept in the engine's status.
pub(crate) fn load_into(chaos: &Chaos, path: &Path, seed: Option<u64>) -> Result<(u64, u64), ConfigError> {
    let result = read_file(path).and_then(|bytes| {
        let mut config = parse_file(path, &bytes)?;
        if config.seed.is_none() {
            config.seed = seed;
        }
        Ok((config, content_hash(&bytes)))
    });
    match result {
        Ok((config, hash)) => chaos.install(config, Some(path)).map(|generation| (hash, generation)),
        Err(e) => {
            chaos.record_error(&e);
            Err(e)
        }
    }
}

/// A hash of a file's content, to tell a real change from a touch.
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same content always hashes the same.
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Reads a file, refusing what cannot be a configuration file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    // Asked before opening too: opening a FIFO for reading blocks until a
    // writer comes, which would hang startup, or the watcher's thread.
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::read(path, &e))?;
    if !meta.is_file() {
        return Err(ConfigError::refused(path, "not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(|e| ConfigError::read(path, &e))?;
    let meta = file.metadata().map_err(|e| ConfigError::read(path, &e))?;
    if !meta.is_file() {
        return Err(ConfigError::refused(path, "not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| ConfigError::read(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::refused(path, format!("larger than {MAX_FILE_BYTES} bytes; is this the right file?")));
    }
    Ok(bytes)
}

/// Parses the bytes of a file; errors name the file.
pub(crate) fn parse_file(path: &Path, bytes: &[u8]) -> Result<Config, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse { source_name: path.display().to_string(), message };
    let format = Format::from_path(path)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| parse_err(format!("not valid UTF-8 after byte {} (a half-written file?)", e.valid_up_to())))?;
    parse_text(text, format).map_err(parse_err)
}

/// Parses a document; the error is the message without the source.
fn parse_text(text: &str, format: Format) -> Result<Config, String> {
    if text.trim().is_empty() {
        return Err("the document is empty (a truncated or half-written file?); \
                    write an empty `rules` list to configure no rules"
            .to_owned());
    }
    if !format.is_available() {
        return Err(format!(
            "{format} support is not compiled in: enable the `{}` feature of mischief",
            format.feature()
        ));
    }
    let config: Config = match deserialize(text, format) {
        Ok(config) => config,
        // Say at once that `rules` is missing too, so that a file written
        // without it (the seed's guardrails file) is not fixed one error at
        // a time.
        Err(e) => match top_level_keys(text, format) {
            Some(keys) if !keys.contains("rules") => {
                return Err(format!("{e}; and {}", no_rules_key(format, keys.contains("guardrails"))));
            }
            _ => return Err(e),
        },
    };
    if config.rules.is_empty() && !top_level_keys(text, format).is_some_and(|keys| keys.contains("rules")) {
        return Err(no_rules_key(format, config.guardrails.is_some()));
    }
    Ok(config)
}

/// The error for a document without a `rules` key, saying what to write in
/// `format`.
fn no_rules_key(format: Format, has_guardrails: bool) -> String {
    let empty = match format {
        Format::Toml => "`rules = []` (at the top, before any [table])",
        Format::Yaml => "`rules: []`",
        Format::Json => "`\"rules\": []`",
    };
    if has_guardrails {
        format!(
            "there is no `rules` key: a file of guardrails alone needs one too (a file without it is \
             refused as truncated); add {empty} to configure no rules, or write the rules there"
        )
    } else {
        format!(
            "there is no `rules` key (a truncated or half-written file?); \
             add {empty} to configure no rules"
        )
    }
}

/// Formats a deserialization error with the path of the field it is about.
#[cfg(any(feature = "toml", feature = "yaml", feature = "json"))]
fn with_path(path: &serde_path_to_error::Path, message: impl fmt::Display) -> String {
    let path = path.to_string();
    match path.strip_suffix(".?") {
        _ if path == "." || path == "?" => message.to_string(),
        // The error is in the syntax, somewhere inside this field.
        Some(near) => format!("near `{near}`: {message}"),
        None => format!("at `{path}`: {message}"),
    }
}

#[allow(unused_variables)]
fn deserialize<T: serde::de::DeserializeOwned>(text: &str, format: Format) -> Result<T, String> {
    match format {
        #[cfg(feature = "toml")]
        Format::Toml => {
            let line_col = |e: &toml::de::Error| {
                e.span()
                    .map(|s| {
                        let before = &text.as_bytes()[..s.start.min(text.len())];
                        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
                        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
                        format!(" (line {line}, column {column})")
                    })
                    .unwrap_or_default()
            };
            let de = toml::Deserializer::parse(text).map_err(|e| format!("{}{}", e.message(), line_col(&e)))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let inner = e.inner();
                with_path(e.path(), format_args!("{}{}", inner.message(), line_col(inner)))
            })
        }
        #[cfg(feature = "yaml")]
        Format::Yaml => {
            let mut path = None;
            serde_saphyr::with_deserializer_from_str(text, |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    path = Some(e.path().clone());
                    e.into_inner()
                })
            })
            .map_err(|e| {
                let mut message = one_line(&e.without_snippet().to_string());
                // serde-saphyr's messages for a value of the wrong type or
                // out of range ("invalid u16") do not say what the value was.
                if let Some(found) = e.location().and_then(|at| yaml_scalar_at(text, at))
                    && !names_value(&message, found)
                {
                    message = format!("{message} (found {found:?})");
                }
                match &path {
                    Some(path) => with_path(path, message),
                    None => message,
                }
            })
        }
        #[cfg(feature = "json")]
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| with_path(e.path(), e.inner()))?;
            de.end().map_err(|e| e.to_string())?;
            Ok(value)
        }
        #[allow(unreachable_patterns)]
        _ => Err(format!("{format} support is not compiled in")),
    }
}

/// The keys at the top level of the document, if it is a table (mapping,
/// object) at all.
fn top_level_keys(text: &str, format: Format) -> Option<std::collections::BTreeSet<String>> {
    use serde::de::IgnoredAny;
    use std::collections::BTreeMap;
    deserialize::<BTreeMap<String, IgnoredAny>>(text, format).ok().map(|top| top.into_keys().collect())
}

/// Does the message already name `value` (as `` `70000` ``, `"abc"` or
/// `1: ...` do), as a word of its own, before serde-saphyr's " at line N,
/// column M"?
#[cfg(feature = "yaml")]
fn names_value(message: &str, value: &str) -> bool {
    let head = message.rsplit_once(" at line ").map_or(message, |(head, _)| head);
    head.match_indices(value).any(|(i, _)| {
        let before = head[..i].chars().next_back();
        let after = head[i + value.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The scalar value a YAML error points at, as written (without its
/// quotes), or `None` when the error points at no scalar value (a mapping, a
/// sequence, a key, the end of the document) or the position is not in
/// `text`.
#[cfg(feature = "yaml")]
fn yaml_scalar_at(text: &str, at: serde_saphyr::Location) -> Option<&str> {
    // The node's first byte: from its span when the parser recorded it, else
    // from the line and column (both from 1, the column counting characters).
    let start = match at.span().byte_offset().and_then(|b| usize::try_from(b).ok()) {
        Some(start) if text.is_char_boundary(start) && start < text.len() => start,
        _ => {
            let line_index = usize::try_from(at.line()).ok()?.checked_sub(1)?;
            let line_start = if line_index == 0 { 0 } else { text.match_indices('\n').nth(line_index - 1)?.0 + 1 };
            let column = usize::try_from(at.column()).ok()?.checked_sub(1)?;
            line_start + text[line_start..].char_indices().nth(column)?.0
        }
    };
    let rest = &text[start..];
    let rest = &rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())];
    let (value, len) = scalar_prefix(rest)?;
    // A key (the error is about its mapping, as "missing field" is).
    let after = rest[len..].trim_start_matches([' ', '\t']);
    if after.strip_prefix(':').is_some_and(|a| a.is_empty() || a.starts_with([' ', '\t'])) {
        return None;
    }
    Some(value)
}

/// The YAML scalar at the start of `rest` (one line): a quoted one without
/// its quotes, or a plain one up to a flow indicator, a `: ` or a comment;
/// and the number of bytes it takes in `rest`.
#[cfg(feature = "yaml")]
fn scalar_prefix(rest: &str) -> Option<(&str, usize)> {
    let (scalar, len) = match rest.chars().next()? {
        quote @ ('"' | '\'') => {
            // Up to the closing quote; a doubled '' or an escaped \" inside
            // is shown as written.
            let body = &rest[1..];
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' if quote == '"' => {
                        chars.next();
                    }
                    '\'' if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') => {
                        chars.next();
                    }
                    c if c == quote => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            // A quoted scalar that goes on to the next line: its first line.
            end.map_or((body, rest.len()), |end| (&body[..end], end + 2))
        }
        // Not a scalar: a mapping, a sequence, an anchor, an alias, a tag,
        // a block scalar, a comment.
        '{' | '[' | '}' | ']' | ',' | '#' | '&' | '*' | '!' | '|' | '>' => return None,
        _ => {
            let bytes = rest.as_bytes();
            let end = rest
                .char_indices()
                .find(|&(i, c)| {
                    let blank_before = i > 0 && matches!(bytes[i - 1], b' ' | b'\t');
                    let blank_after = matches!(bytes.get(i + 1), None | Some(b' ' | b'\t'));
                    matches!(c, ',' | '}' | ']') || (c == '#' && blank_before) || (c == ':' && blank_after)
                })
                .map_or(rest.len(), |(i, _)| i);
            let scalar = rest[..end].trim_end();
            (scalar, scalar.len())
        }
    };
    (!scalar.is_empty()).then_some((scalar, len))
}

/// Joins a multi-line message into one line.
#[cfg(feature = "yaml")]
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        for (p, f) in [
            ("a.toml", Format::Toml),
            ("a.TOML", Format::Toml),
            ("a.yaml", Format::Yaml),
            ("a.yml", Format::Yaml),
            ("/x/a.json", Format::Json),
        ] {
            assert_eq!(Format::from_path(Path::new(p)).unwrap(), f, "{p}");
        }
        for p in ["a", "a.ini", "a.toml.bak"] {
            let err = Format::from_path(Path::new(p)).unwrap_err().to_string();
            assert!(err.contains(p) && err.contains("unsupported extension"), "{err}");
        }
    }

    #[test]
    fn empty_and_keyless_documents_are_errors() {
        for format in [Format::Toml, Format::Yaml, Format::Json] {
            if !format.is_available() {
                continue;
            }
            for text in ["", "  \n\t\n"] {
                let err = Config::parse(text, format).unwrap_err().to_string();
                assert!(err.contains("empty"), "{format}: {err}");
            }
        }
        #[cfg(feature = "toml")]
        {
            let err = Config::parse("seed = 4\n", Format::Toml).unwrap_err().to_string();
            assert!(err.contains("no `rules` key"), "{err}");
            assert!(Config::parse("rules = []\n", Format::Toml).unwrap().rules.is_empty());
        }
        #[cfg(feature = "yaml")]
        assert!(Config::parse("rules: []\n", Format::Yaml).unwrap().rules.is_empty());
        #[cfg(feature = "json")]
        assert!(Config::parse(r#"{"rules": []}"#, Format::Json).unwrap().rules.is_empty());
    }
}
