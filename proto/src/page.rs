//! Opaque page tokens (AIP-158) for every list RPC, written once.
//!
//! A token carries the server's cursor (for the ledger: the row sequence number to continue
//! before) **encrypted**, and is **bound to the query** it was issued for: the list RPC and every
//! filter field. A token from one query is refused on another with `INVALID_ARGUMENT`, and a token
//! reveals nothing about the records, the filter or the cursor: no ACO id, request id, record id,
//! beneficiary id or row number, in any encoding (only the cursor's length is visible).
//!
//! Construction (deterministic authenticated encryption, SIV-style, from HMAC-SHA-256 as the PRF;
//! RustCrypto `hmac` + `sha2`):
//!
//! ```text
//! tag    = HMAC(K_tag, len(query) || query || cursor)[..16]
//! stream = HMAC(K_enc, tag || 0u32) || HMAC(K_enc, tag || 1u32) || ...
//! token  = base64url_nopad(0x01 || (cursor XOR stream) || tag)
//! ```
//!
//! `K_tag` and `K_enc` are derived from a 32-byte server secret that each service keeps in its own
//! store ([`crate::store::Db::page_tokens`]), so tokens stay valid across restarts and in a
//! restored backup, and mean nothing to another deployment. Opening a token recomputes the tag
//! over the *current* query and compares it in constant time: a changed filter, a changed RPC, a
//! forged or altered token, or one from another server all fail the same way.
//!
//! `page_size` is deliberately not part of the query (AIP-158 lets a client change it between
//! pages).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Token format version (the first byte).
const VERSION: u8 = 1;
/// Bytes of the authentication tag kept in a token.
const TAG_LEN: usize = 16;
/// Longest cursor a token may carry (bytes).
const MAX_CURSOR: usize = 256;

/// A page token this server did not issue for this query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a page token returned by this service for this query (same RPC and filters)")]
pub struct BadPageToken;

/// The query a page token is bound to: the list RPC and each filter field, in order.
#[derive(Debug, Clone)]
pub struct PageQuery(Vec<u8>);

impl PageQuery {
    /// A query of `rpc` (e.g. `acorn.settlement.v1.SettlementService/ListReconciliations`).
    pub fn new(rpc: &str) -> Self {
        Self(Vec::new()).text(rpc)
    }

    /// Adds a text filter field (length-prefixed, so fields cannot run into each other).
    pub fn text(mut self, value: &str) -> Self {
        self.0
            .extend_from_slice(&(value.len() as u64).to_be_bytes());
        self.0.extend_from_slice(value.as_bytes());
        self
    }

    /// Adds an integer filter field.
    pub fn int(mut self, value: i64) -> Self {
        self.0.extend_from_slice(&8u64.to_be_bytes());
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
}

/// Issues and opens the page tokens of one service (see the module docs).
#[derive(Clone)]
pub struct PageTokens {
    tag_key: HmacSha256,
    enc_key: HmacSha256,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

impl PageTokens {
    /// Tokens under a 32-byte server secret.
    pub fn new(secret: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac = hmac(secret);
            mac.update(label);
            hmac(&mac.finalize().into_bytes())
        };
        Self {
            tag_key: derive(b"acorn page token v1: tag"),
            enc_key: derive(b"acorn page token v1: encryption"),
        }
    }

    /// Tokens under a fresh random secret (valid only while this value lives: tests, tools).
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        Ok(Self::new(&secret))
    }

    fn tag(&self, query: &PageQuery, cursor: &[u8]) -> HmacSha256 {
        let mut mac = self.tag_key.clone();
        mac.update(&(query.0.len() as u64).to_be_bytes());
        mac.update(&query.0);
        mac.update(cursor);
        mac
    }

    fn apply_stream(&self, tag: &[u8], data: &mut [u8]) {
        for (block, chunk) in data.chunks_mut(32).enumerate() {
            let mut mac = self.enc_key.clone();
            mac.update(tag);
            mac.update(&u32::try_from(block).unwrap_or(u32::MAX).to_be_bytes());
            let stream = mac.finalize().into_bytes();
            for (b, s) in chunk.iter_mut().zip(stream.iter()) {
                *b ^= s;
            }
        }
    }

    /// The token for `cursor` under `query`.
    pub fn issue(&self, query: &PageQuery, cursor: &[u8]) -> String {
        let full = self.tag(query, cursor).finalize().into_bytes();
        let tag = &full[..TAG_LEN];
        let mut token = Vec::with_capacity(1 + cursor.len() + TAG_LEN);
        token.push(VERSION);
        token.extend_from_slice(cursor);
        self.apply_stream(tag, &mut token[1..]);
        token.extend_from_slice(tag);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
    }

    /// The cursor of a token issued by [`PageTokens::issue`] for this same `query`.
    pub fn open(&self, query: &PageQuery, token: &str) -> Result<Vec<u8>, BadPageToken> {
        if token.len() > 2 * (1 + MAX_CURSOR + TAG_LEN) {
            return Err(BadPageToken);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| BadPageToken)?;
        let (&version, rest) = bytes.split_first().ok_or(BadPageToken)?;
        if version != VERSION || rest.len() < TAG_LEN {
            return Err(BadPageToken);
        }
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut cursor = ciphertext.to_vec();
        self.apply_stream(tag, &mut cursor);
        self.tag(query, &cursor)
            .verify_truncated_left(tag)
            .map_err(|_| BadPageToken)?;
        Ok(cursor)
    }

    /// The token for a ledger position, or `""` on the last page (`None`).
    pub fn issue_seq(&self, query: &PageQuery, next: Option<i64>) -> String {
        next.map(|seq| self.issue(query, &seq.to_be_bytes()))
            .unwrap_or_default()
    }

    /// The ledger position of a token from [`PageTokens::issue_seq`]: `Ok(None)` for `""`, the
    /// first page.
    pub fn open_seq(&self, query: &PageQuery, token: &str) -> Result<Option<i64>, BadPageToken> {
        if token.is_empty() {
            return Ok(None);
        }
        let cursor: [u8; 8] = self
            .open(query, token)?
            .try_into()
            .map_err(|_| BadPageToken)?;
        match i64::from_be_bytes(cursor) {
            seq if seq > 0 => Ok(Some(seq)),
            _ => Err(BadPageToken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acorn_testkit::encodings;
    use proptest::prelude::*;

    fn tokens() -> PageTokens {
        PageTokens::new(&[7u8; 32])
    }

    fn query(aco: &str, year: i64) -> PageQuery {
        PageQuery::new("acorn.test.v1.TestService/ListThings")
            .text(aco)
            .int(year)
    }

    #[test]
    fn round_trips_under_the_same_query_only() {
        let t = tokens();
        let q = query("A1215", 2018);
        let token = t.issue_seq(&q, Some(42));
        assert_eq!(t.open_seq(&q, &token), Ok(Some(42)));
        assert_eq!(t.issue_seq(&q, None), "");
        assert_eq!(t.open_seq(&q, ""), Ok(None));
        for other in [
            query("A1216", 2018),
            query("A1215", 2019),
            query("", 2018),
            PageQuery::new("acorn.test.v1.TestService/ListOthers")
                .text("A1215")
                .int(2018),
            // Length prefixes: "A1" + "215" is not "A12" + "15".
            PageQuery::new("acorn.test.v1.TestService/ListThings")
                .text("A1")
                .text("215"),
        ] {
            assert_eq!(t.open_seq(&other, &token), Err(BadPageToken));
        }
        let elsewhere = PageTokens::new(&[8u8; 32]);
        assert_eq!(elsewhere.open_seq(&q, &token), Err(BadPageToken));
    }

    #[test]
    fn refuses_what_it_did_not_issue() {
        let t = tokens();
        let q = query("A1", 0);
        let token = t.issue_seq(&q, Some(5));
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&token)
            .expect("base64");
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let altered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(t.open_seq(&q, &altered), Err(BadPageToken), "byte {i}");
            bytes[i] ^= 1;
        }
        for bad in [
            "before:5",
            "5",
            "AQ",
            "!!!!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(t.open_seq(&q, bad), Err(BadPageToken), "{bad:?}");
        }
        // A valid token whose cursor is not a ledger position.
        let odd = t.issue(&q, b"abc");
        assert_eq!(t.open(&q, &odd), Ok(b"abc".to_vec()));
        assert_eq!(t.open_seq(&q, &odd), Err(BadPageToken));
        assert_eq!(
            t.open_seq(&q, &t.issue(&q, &0i64.to_be_bytes())),
            Err(BadPageToken)
        );
    }

    #[test]
    fn a_token_shows_no_identifier_in_any_encoding() {
        let t = tokens();
        let aco = "A1215";
        let beneficiary = "1EG4TE5MK73";
        for (q, cursor) in [
            (query(aco, 2018), 1234i64.to_be_bytes().to_vec()),
            (query(beneficiary, 0), beneficiary.as_bytes().to_vec()),
        ] {
            let token = t.issue(&q, &cursor);
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .expect("base64");
            for id in [aco, beneficiary, "1234"] {
                for form in encodings(id.as_bytes()) {
                    assert!(!token.contains(&form), "{token} shows {id} as {form}");
                }
                assert!(!contains(&raw, id.as_bytes()), "raw bytes hold {id}");
            }
            assert!(
                !contains(&raw, &1234i64.to_be_bytes()[6..]),
                "raw bytes hold the seq"
            );
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    proptest! {
        /// Any string at all is refused or opened without panicking; tokens issued for any cursor
        /// round-trip.
        #[test]
        fn any_token_is_handled(token in ".{0,200}", seq in any::<i64>(), aco in ".{0,16}") {
            let t = tokens();
            let q = query(&aco, seq);
            let _ = t.open_seq(&q, &token);
            let issued = t.issue_seq(&q, Some(seq));
            let opened = t.open_seq(&q, &issued);
            prop_assert_eq!(opened, if seq > 0 { Ok(Some(seq)) } else { Err(BadPageToken) });
        }
    }
}
