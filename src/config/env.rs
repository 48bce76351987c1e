//! The seed-compatible `CHAOS_*` environment variables.

use std::path::PathBuf;
use std::time::Duration;

use super::{Abort, Config, ConfigError, Delay, Rule};

/// Names of the environment variables read by
/// [`Chaos::from_env`](crate::Chaos::from_env).
///
/// They follow the seed's Python middleware, so a deployment that already
/// sets them keeps working. An empty value counts as unset.
pub mod vars {
    /// `true`/`false`/`1`/`0` (any case): the master switch. Default off.
    pub const ENABLED: &str = "CHAOS_ENABLED";
    /// `0.0..=1.0`: the fraction of calls aborted.
    pub const FAILURE_RATE: &str = "CHAOS_FAILURE_RATE";
    /// A whole number of milliseconds N: every call that is not aborted waits
    /// a uniform random `0..=N` ms.
    pub const LATENCY_MS: &str = "CHAOS_LATENCY_MS";
    /// The HTTP status of aborts, `200..=599`. Default 503.
    pub const ABORT_STATUS: &str = "CHAOS_ABORT_STATUS";
    /// A `u64` seed that makes the random decisions repeatable: calls made
    /// one after another get the same decisions on every run. (Concurrent
    /// calls draw from one sequence in whatever order they reach it, and the
    /// sequence starts again whenever a configuration is installed.)
    pub const SEED: &str = "CHAOS_SEED";
    /// The path of a configuration file (`.toml`, `.yaml`/`.yml` or
    /// `.json`; each format needs its feature, `toml`, `yaml` or `json`, and
    /// `reload` turns on all three). Its rules replace the catch-all rule of
    /// the variables above; with the `reload` feature it is watched and
    /// reloaded on change.
    pub const CONFIG: &str = "CHAOS_CONFIG";
}

/// Every variable mischief reads.
const ALL: [&str; 6] =
    [vars::ENABLED, vars::FAILURE_RATE, vars::LATENCY_MS, vars::ABORT_STATUS, vars::SEED, vars::CONFIG];

/// The name of the catch-all rule built from the environment variables.
pub(crate) const ENV_RULE: &str = "env";

/// What the environment variables say.
#[derive(Debug)]
pub(crate) struct EnvSettings {
    pub(crate) enabled: bool,
    pub(crate) config: Config,
    /// `CHAOS_CONFIG`, if set.
    pub(crate) file: Option<PathBuf>,
}

impl EnvSettings {
    /// Reads the variables through `lookup` (so tests need not touch the
    /// process environment).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());

        let enabled = match get(vars::ENABLED) {
            None => false,
            Some(v) => parse_bool(&v).ok_or_else(|| env_err(vars::ENABLED, &v, "expected true, false, 1 or 0"))?,
        };
        let rate = match get(vars::FAILURE_RATE) {
            None => 0.0,
            Some(v) => {
                let rate: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| env_err(vars::FAILURE_RATE, &v, "expected a number from 0.0 to 1.0"))?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(env_err(vars::FAILURE_RATE, &v, "must be between 0.0 and 1.0"));
                }
                rate
            }
        };
        let latency_ms = match get(vars::LATENCY_MS) {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| env_err(vars::LATENCY_MS, &v, "expected a whole number of milliseconds (0 or more)"))?,
        };
        let status = match get(vars::ABORT_STATUS) {
            None => 503,
            Some(v) => match v.trim().parse::<u16>() {
                Ok(s) if (200..=599).contains(&s) => s,
                _ => {
                    return Err(env_err(vars::ABORT_STATUS, &v, "expected an HTTP status from 200 to 599"));
                }
            },
        };
        let seed = match get(vars::SEED) {
            None => None,
            Some(v) => Some(
                v.trim().parse::<u64>().map_err(|_| env_err(vars::SEED, &v, "expected an unsigned 64-bit integer"))?,
            ),
        };

        let mut config = Config { seed, ..Config::default() };
        if rate > 0.0 || latency_ms > 0 {
            let mut rule = Rule::new(ENV_RULE).abort_first(true);
            if rate > 0.0 {
                rule = rule.abort(Abort::status(status).percentage(percent(rate)));
            }
            if latency_ms > 0 {
                rule = rule.delay(Delay::uniform(Duration::ZERO, Duration::from_millis(latency_ms)).percentage(100.0));
            }
            config.rules.push(rule);
        }
        let file = get(vars::CONFIG).map(|v| PathBuf::from(v.trim()));
        Ok(EnvSettings { enabled, config, file })
    }
}

/// `rate` (`0..=1`) as a percentage, by moving the decimal point of its
/// shortest decimal form: `0.29` is `29`, where `0.29 * 100.0` is
/// `28.999999999999996` (which `status()` and `config()` would show).
fn percent(rate: f64) -> f64 {
    // `Display` writes an `f64` without an exponent, in the fewest digits
    // that read back as the same number.
    let text = rate.to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let (head, tail) = frac.split_at(frac.len().min(2));
    format!("{int}{head:0<2}.{tail}0").parse().unwrap_or(rate * 100.0)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Fails, naming the variable, when one of the process's `CHAOS_*`
/// variables is set to something that is not Unicode: read as a `String`,
/// it would look unset, and chaos would silently be off or ignore its file.
pub(crate) fn check_unicode() -> Result<(), ConfigError> {
    for var in ALL {
        if let Err(std::env::VarError::NotUnicode(value)) = std::env::var(var) {
            return Err(env_err(var, &value.to_string_lossy(), "is not valid UTF-8"));
        }
    }
    Ok(())
}

/// Warns (target `mischief`) about each `CHAOS_*` variable of the process,
/// set to something, that mischief does not read but that is one or two
/// letters away from one it reads (`CHAOS_ENABLE`): such a variable leaves
/// its setting at the default without a word. Not an error: other tools
/// use the prefix too.
pub(crate) fn warn_misspelt() {
    let set: Vec<String> = std::env::vars_os()
        .filter(|(_, value)| !value.to_string_lossy().trim().is_empty())
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for (name, read) in misspelt(set.iter().map(String::as_str)) {
        tracing::warn!(
            target: "mischief",
            variable = name,
            read,
            "{name} is set, but mischief does not read it: did you mean {read}?"
        );
    }
}

/// Each of `names` that starts with `CHAOS` (in any case), is not a
/// variable mischief reads, and is at most two edits (Levenshtein, ignoring
/// case) from one: with the nearest one it reads.
pub(crate) fn misspelt<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(&'a str, &'static str)> {
    names
        .into_iter()
        .filter(|name| !ALL.contains(name))
        .filter_map(|name| {
            let upper = name.to_ascii_uppercase();
            if !upper.starts_with("CHAOS") {
                return None;
            }
            ALL.iter()
                .map(|read| (edit_distance(upper.as_bytes(), read.as_bytes()), *read))
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d)
                .map(|(_, read)| (name, read))
        })
        .collect()
}

/// The Levenshtein distance of two byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let next = (diagonal + usize::from(x != y)).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn env_err(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Env { var, value: value.to_owned(), reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<EnvSettings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EnvSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_rate_is_the_percentage_it_reads_as() {
        for (rate, percentage) in [
            (0.29, 29.0),
            (0.1, 10.0),
            (0.7, 70.0),
            (1.0, 100.0),
            (0.001, 0.1),
            (0.5, 50.0),
            (1e-9, 1e-7),
            (0.123456789, 12.3456789),
        ] {
            assert_eq!(super::percent(rate), percentage, "{rate}");
        }
        let s = read(&[("CHAOS_FAILURE_RATE", "0.29")]).unwrap();
        assert_eq!(s.config.rules[0].abort.as_ref().unwrap().percentage, Some(29.0));
    }

    #[test]
    fn defaults_are_off_and_empty() {
        let s = read(&[]).unwrap();
        assert!(!s.enabled);
        assert!(s.config.rules.is_empty());
        assert_eq!(s.config.seed, None);
    }

    #[test]
    fn builds_one_catch_all_rule() {
        let s = read(&[
            ("CHAOS_ENABLED", "TRUE"),
            ("CHAOS_FAILURE_RATE", "0.25"),
            ("CHAOS_LATENCY_MS", "40"),
            ("CHAOS_ABORT_STATUS", "500"),
            ("CHAOS_SEED", "7"),
        ])
        .unwrap();
        assert!(s.enabled);
        assert_eq!(s.config.seed, Some(7));
        let [rule] = s.config.rules.as_slice() else { panic!("one rule expected") };
        assert_eq!(rule.name, "env");
        assert!(rule.abort_first);
        assert!(rule.when.is_empty());
        let abort = rule.abort.as_ref().unwrap();
        assert_eq!(abort.status, Some(500));
        assert_eq!(abort.percentage, Some(25.0));
        let delay = rule.delay.as_ref().unwrap();
        assert_eq!((delay.min, delay.max), (Some(Duration::ZERO), Some(Duration::from_millis(40))));
        assert_eq!(delay.percentage, Some(100.0));
    }

    /// The README's "Precedence" paragraph gives the rule the variables
    /// build, written for a file: it is the same rule.
    #[cfg(feature = "toml")]
    #[test]
    fn the_env_rule_as_the_readme_writes_it() {
        let s = read(&[("CHAOS_FAILURE_RATE", "0.05"), ("CHAOS_LATENCY_MS", "100")]).unwrap();
        let rule = r#"{ name = "env",
abort = { status = 503, percentage = 5 }, delay = { min = "0ms", max =
"100ms", percentage = 100 }, abort_first = true }"#;
        let readme = include_str!("../../README.md").replace('\n', " ");
        assert!(readme.contains(&rule.replace('\n', " ")), "the README's rule is not this one");
        let file = crate::config::Config::parse(&format!("rules = [{rule}]"), crate::config::Format::Toml).unwrap();
        assert_eq!(s.config, file);
    }

    #[test]
    fn every_bad_value_names_its_variable_and_value() {
        let cases = [
            ("CHAOS_ENABLED", "yes please"),
            ("CHAOS_FAILURE_RATE", "1.5"),
            ("CHAOS_FAILURE_RATE", "-0.1"),
            ("CHAOS_FAILURE_RATE", "NaN"),
            ("CHAOS_FAILURE_RATE", "ten percent"),
            ("CHAOS_LATENCY_MS", "-5"),
            ("CHAOS_LATENCY_MS", "50ms"),
            ("CHAOS_ABORT_STATUS", "99"),
            ("CHAOS_ABORT_STATUS", "600"),
            ("CHAOS_ABORT_STATUS", "teapot"),
            ("CHAOS_SEED", "-1"),
            ("CHAOS_SEED", "seven"),
            ("CHAOS_SEED", "18446744073709551616"),
            ("CHAOS_FAILURE_RATE", "inf"),
            ("CHAOS_LATENCY_MS", "18446744073709551616"),
            ("CHAOS_LATENCY_MS", "1.5"),
        ];
        for (var, value) in cases {
            let err = read(&[("CHAOS_ENABLED", "true"), (var, value)]).unwrap_err();
            match &err {
                ConfigError::Env { var: v, value: got, .. } => {
                    assert_eq!((*v, got.as_str()), (var, value));
                }
                other => panic!("{var}={value}: unexpected {other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains(var) && msg.contains(value), "{msg}");
        }
    }

    #[test]
    fn misspelt_names_are_matched_to_the_ones_read() {
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"CHAOS_SEED", b"CHAOS_SEED"), 0);
        let names = [
            "CHAOS_ENABLE",        // a letter missing
            "CHAOS_ENABLEDD",      // one too many
            "CHAOS_ENALBED",       // two swapped
            "CHAOS_FAILURE_RATIO", // two changed
            "CHAOS_LATENCY",       // three missing: too far
            "chaos_enabled",       // the case
            "CHAOS-SEED",          // the separator
            "CHAOSSEED",           // no separator
            "CHAOS_ENABLED",       // read
            "CHAOS_CONFIG",        // read
            "CHAOS_MESH_NAMESPACE",
            "CHAOS_CONFIG_DIR",
            "CHAOS",
            "CHAOS_ABORT_STATUS_CODE",
            "ENABLED",
            "XCHAOS_SEED", // not the prefix
        ];
        assert_eq!(
            misspelt(names),
            [
                ("CHAOS_ENABLE", vars::ENABLED),
                ("CHAOS_ENABLEDD", vars::ENABLED),
                ("CHAOS_ENALBED", vars::ENABLED),
                ("CHAOS_FAILURE_RATIO", vars::FAILURE_RATE),
                ("chaos_enabled", vars::ENABLED),
                ("CHAOS-SEED", vars::SEED),
                ("CHAOSSEED", vars::SEED),
            ]
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = read(&[("CHAOS_ENABLED", ""), ("CHAOS_FAILURE_RATE", " ")]).unwrap();
        assert!(!s.enabled);
        assert!(s.config.rules.is_empty());
    }
}
