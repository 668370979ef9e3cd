//! The `--db` value: an SQLite file or a PostgreSQL URL, decided once at parse time, and
//! shown everywhere without its password.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::with_causes;

/// Where the calls are kept, as `--db` says: decided once, at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created if missing, with `<file>.lock` beside it.
    Sqlite(PathBuf),
    /// A PostgreSQL database; its tables are created if missing.
    Postgres(PgUrl),
}

impl FromStr for Database {
    type Err = DbUrlError;

    /// A `postgres://` or `postgresql://` URL (the scheme in any case, so a capitalised
    /// one does not quietly become a file name) is PostgreSQL; anything else is a path.
    fn from_str(s: &str) -> Result<Database, DbUrlError> {
        match s.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("postgres")
                    || scheme.eq_ignore_ascii_case("postgresql") =>
            {
                PgUrl::parse(&format!("{}://{rest}", scheme.to_ascii_lowercase()))
                    .map(Database::Postgres)
            }
            _ => Ok(Database::Sqlite(PathBuf::from(s))),
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::Sqlite(path)
    }
}

/// Names the database the way errors and logs may show it: a PostgreSQL password never.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => url.fmt(f),
        }
    }
}

/// A PostgreSQL connection URL. It may carry a password, so Display and Debug show it
/// redacted; only [`PgUrl::expose`] gives it whole, to hand to a connection or a child
/// process.
#[derive(Clone)]
pub struct PgUrl {
    url: String,
    config: Arc<::postgres::Config>,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<PgUrl, DbUrlError> {
        let config = ::postgres::Config::from_str(url).map_err(|e| DbUrlError {
            url: redact(url),
            reason: with_causes(&e),
        })?;
        Ok(PgUrl {
            url: url.to_string(),
            config: Arc::new(config),
        })
    }

    /// The URL with its password, for a connection or a child process's `--db`.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The parsed URL, to connect with.
    pub fn config(&self) -> &::postgres::Config {
        &self.config
    }
}

impl PartialEq for PgUrl {
    fn eq(&self, other: &PgUrl) -> bool {
        self.url == other.url
    }
}

impl Eq for PgUrl {}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not a valid PostgreSQL URL: {url}: {reason}")]
pub struct DbUrlError {
    url: String,
    reason: String,
}

/// `url` with the password of its user part and any `password=` parameter replaced.
pub fn redact(url: &str) -> String {
    const HIDDEN: &str = "***";
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{HIDDEN}@{hosts}"),
            None => format!("{userinfo}@{hosts}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}={HIDDEN}"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}
