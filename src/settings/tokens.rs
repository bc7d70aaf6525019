//! API tokens and their scopes, parsed from `settings.api.tokens` (env `API_TOKENS`).
//!
//! Syntax: entries separated by `,` (as before scopes existed); an entry is a
//! token, optionally followed by `:` and its scopes joined by `+`:
//! `API_TOKENS="ops-secret,reader-secret:read,billing-secret:read+refunds"`.
//! A token without `:` keeps every scope, so a list written before scopes
//! existed grants what it granted then. Anything else is refused at start-up.
use std::fmt;

use sha2::{Digest, Sha256};

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read orders, imports, refunds, figures, queues and the console.
    Read,
    /// Ask for refunds.
    Refunds,
    /// Operate queues (retry dead jobs, canary) and see customer data unmasked.
    Ops,
}

impl Scope {
    pub const ALL: [Self; 3] = [Self::Read, Self::Refunds, Self::Ops];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Refunds => "refunds",
            Self::Ops => "ops",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Read => 1,
            Self::Refunds => 2,
            Self::Ops => 4,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == text)
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const ALL: Self = Self(7);

    #[must_use]
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    #[must_use]
    pub const fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::name)
            .collect();
        write!(f, "{}", names.join("+"))
    }
}

/// One configured token.
#[derive(Clone)]
pub struct ApiToken {
    pub secret: String,
    /// SHA-256 of the secret: what a session cookie names, never the secret.
    pub digest: [u8; 32],
    pub scopes: Scopes,
}

/// Every configured token, in config order (the position names the token:
/// idempotency keys are scoped to `token-{index}`).
#[derive(Clone, Default)]
pub struct TokenTable(pub Vec<ApiToken>);

impl fmt::Debug for TokenTable {
    // Tokens are secrets: never print them, not even in a config dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scopes: Vec<_> = self.0.iter().map(|t| t.scopes).collect();
        f.debug_struct("TokenTable")
            .field("scopes", &scopes)
            .finish()
    }
}

impl TokenTable {
    /// Parses the configured list; blank entries are skipped.
    ///
    /// # Errors
    /// A message naming the entry (by position, never by its secret) and what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens: Vec<ApiToken> = Vec::new();
        for (n, entry) in text.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let place = n + 1;
            let (secret, scopes) = match entry.split_once(':') {
                None => (entry, Scopes::ALL),
                Some((secret, list)) => (secret, parse_scopes(list, place)?),
            };
            if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "API token #{place}: a token is one or more visible ASCII characters \
                     (no spaces), optionally followed by `:scope+scope`"
                ));
            }
            if Scope::parse(secret).is_some() {
                // `tok:read,refunds` would otherwise grant a token named `refunds` everything.
                return Err(format!(
                    "API token #{place} is the scope name `{secret}`: join scopes with `+` \
                     (`tok:read+refunds`), entries with `,`"
                ));
            }
            if tokens.iter().any(|t| t.secret == secret) {
                return Err(format!("API token #{place} is listed twice"));
            }
            tokens.push(ApiToken {
                secret: secret.to_string(),
                digest: Sha256::digest(secret.as_bytes()).into(),
                scopes,
            });
        }
        Ok(Self(tokens))
    }
}

fn parse_scopes(list: &str, place: usize) -> Result<Scopes, String> {
    let mut scopes = Scopes::default();
    for name in list.split('+') {
        let scope = Scope::parse(name).ok_or_else(|| {
            format!(
                "API token #{place}: unknown scope `{}` (known: read, refunds, ops; \
                 join several with `+`, e.g. `tok:read+refunds`)",
                name.chars().take(40).collect::<String>()
            )
        })?;
        scopes = scopes.with(scope);
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::{Scope, Scopes, TokenTable};

    fn scopes(text: &str) -> Vec<Scopes> {
        TokenTable::parse(text)
            .unwrap()
            .0
            .iter()
            .map(|t| t.scopes)
            .collect()
    }

    #[test]
    fn a_token_without_scopes_keeps_every_scope() {
        assert_eq!(scopes("a, b,,"), vec![Scopes::ALL, Scopes::ALL]);
        assert_eq!(scopes(""), vec![]);
    }

    #[test]
    fn scopes_are_joined_with_plus() {
        let parsed = scopes("r:read,w:read+refunds,o:ops");
        assert!(parsed[0].contains(Scope::Read) && !parsed[0].contains(Scope::Refunds));
        assert!(parsed[1].contains(Scope::Refunds) && !parsed[1].contains(Scope::Ops));
        assert!(parsed[2].contains(Scope::Ops) && !parsed[2].contains(Scope::Read));
    }

    #[test]
    fn garbage_is_refused_without_echoing_the_secret() {
        for (bad, says) in [
            ("tok:", "unknown scope ``"),
            ("tok:admin", "unknown scope `admin`"),
            ("tok:read,refunds", "#2 is the scope name `refunds`"),
            ("tok:read;refunds", "unknown scope `read;refunds`"),
            (":read", "#1: a token is"),
            ("a b", "#1: a token is"),
            ("tok,tok", "#2 is listed twice"),
        ] {
            let error = TokenTable::parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
            assert!(!error.contains("tok,") && !error.contains("a b"), "{error}");
        }
    }
}
