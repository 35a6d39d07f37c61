//! Every route of the API, once: its method, its path and the types it takes and answers. The
//! web app calls the server only through these, and a test holds the server's OpenAPI document
//! to the same list, so neither side can name a route the other does not have.

use std::marker::PhantomData;

use super::changes::{Change, ChangeInput};
use super::command_rules::{CommandRule, CommandRuleInput, RulePosition, RuleTest, RuleTestAnswer};
use super::credentials::{Credential, NewCredential, SecretUpdate};
use super::devices::{Device, DeviceInput, HostKeyScan, HostKeyScanRequest};
use super::groups::{AccessGroup, AccessGroupInput};
use super::life::ChangeLife;
use super::requests::{
    CeremonyStart, Inbox, MarkRead, PasskeyInfo, PasskeyInput, PasskeySignIn, PasskeySignInStart,
    RequestDetail, RequestSummary, StartAnswer, StartInput, VoteInput,
};
use super::sessions::{GrantedCredential, SessionAudit, TerminalSession};
use super::trail::{ActivityEvent, ConsistencyProof, EventProof, TrailStatus, Verification};
use super::users::{User, UserInput};
use super::{Health, LoginRequest, Me, Page};
use crate::export::Checkpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// An answer that is not JSON: a file, a stream or a WebSocket, which the browser opens by
/// the route's path.
#[derive(Debug, Clone, Copy)]
pub enum Raw {}

/// A route with its parameters filled in: it takes a `Body` and answers an `Answer`.
#[derive(Debug, Clone)]
pub struct Route<Body, Answer> {
    pub method: Method,
    /// The path as the API documents it, e.g. `/api/changes/{id}`.
    pub template: &'static str,
    /// The path to call: parameters filled in, encoded, and the query if any.
    pub path: String,
    types: PhantomData<fn(Body) -> Answer>,
}

impl<Body, Answer> Route<Body, Answer> {
    fn new(method: Method, template: &'static str, parameters: &[&str]) -> Self {
        let mut path = String::with_capacity(template.len());
        let mut rest = template;
        let mut values = parameters.iter();
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map_or(rest.len(), |end| open + end + 1);
            path.push_str(&encode(values.next().copied().unwrap_or_default()));
            rest = &rest[close..];
        }
        path.push_str(rest);
        Route {
            method,
            template,
            path,
            types: PhantomData,
        }
    }

    /// The route with a query string from `pairs`, leaving out empty values.
    pub fn with_query<V: AsRef<str>>(mut self, pairs: &[(&str, V)]) -> Self {
        let encoded: Vec<String> = pairs
            .iter()
            .filter(|(_, value)| !value.as_ref().is_empty())
            .map(|(key, value)| format!("{key}={}", encode(value.as_ref())))
            .collect();
        if !encoded.is_empty() {
            self.path
                .push(if self.path.contains('?') { '&' } else { '?' });
            self.path.push_str(&encoded.join("&"));
        }
        self
    }
}

/// Percent-encodes all but the unreserved characters of RFC 3986.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Declares a module's routes as functions, and `ALL`, their methods and paths.
macro_rules! routes {
    ($($(#[$doc:meta])* $name:ident($($parameter:ident),*) $method:ident $template:literal, $body:ty => $answer:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name($($parameter: impl std::fmt::Display),*) -> Route<$body, $answer> {
                Route::new(Method::$method, $template, &[$(&$parameter.to_string()),*])
            }
        )*
        /// Every route of this module: its method and path.
        pub const ALL: &[(Method, &str)] = &[$((Method::$method, $template)),*];
    };
}

pub mod session {
    use super::*;
    routes! {
        health() Get "/api/health", () => Health;
        me() Get "/api/me", () => Me;
        sign_in() Post "/api/session", LoginRequest => Me;
        sign_out() Delete "/api/session", () => ();
        passkey_challenge() Post "/api/session/passkey/challenge", PasskeySignInStart => CeremonyStart;
        passkey_sign_in() Post "/api/session/passkey", PasskeySignIn => Me;
    }
}

pub mod users {
    use super::*;
    routes! {
        list() Get "/api/users", () => Page<User>;
        create() Post "/api/users", UserInput => User;
        get(id) Get "/api/users/{id}", () => User;
        update(id) Put "/api/users/{id}", UserInput => User;
    }
}

pub mod groups {
    use super::*;
    routes! {
        list() Get "/api/access-groups", () => Page<AccessGroup>;
        create() Post "/api/access-groups", AccessGroupInput => AccessGroup;
        get(id) Get "/api/access-groups/{id}", () => AccessGroup;
        update(id) Put "/api/access-groups/{id}", AccessGroupInput => AccessGroup;
        delete(id) Delete "/api/access-groups/{id}", () => ();
    }
}

pub mod devices {
    use super::*;
    routes! {
        list() Get "/api/devices", () => Page<Device>;
        create() Post "/api/devices", DeviceInput => Device;
        scan_host_key() Post "/api/devices/host-key-scan", HostKeyScanRequest => HostKeyScan;
        get(id) Get "/api/devices/{id}", () => Device;
        update(id) Put "/api/devices/{id}", DeviceInput => Device;
        delete(id) Delete "/api/devices/{id}", () => ();
    }
}

pub mod command_rules {
    use super::*;
    routes! {
        list() Get "/api/command-rules", () => Vec<CommandRule>;
        create() Post "/api/command-rules", CommandRuleInput => CommandRule;
        update(id) Put "/api/command-rules/{id}", CommandRuleInput => CommandRule;
        delete(id) Delete "/api/command-rules/{id}", () => ();
        move_to(id) Put "/api/command-rules/{id}/position", RulePosition => Vec<CommandRule>;
        test() Post "/api/command-rules/test", RuleTest => RuleTestAnswer;
    }
}

pub mod credentials {
    use super::*;
    routes! {
        list() Get "/api/credentials", () => Page<Credential>;
        create() Post "/api/credentials", NewCredential => Credential;
        get(id) Get "/api/credentials/{id}", () => Credential;
        delete(id) Delete "/api/credentials/{id}", () => ();
        rotate_secret(id) Put "/api/credentials/{id}/secret", SecretUpdate => Credential;
        /// The terminal's WebSocket.
        terminal(id) Get "/api/credentials/{id}/terminal", () => Raw;
        granted() Get "/api/me/credentials", () => Page<GrantedCredential>;
    }
}

pub mod changes {
    use super::*;
    routes! {
        list() Get "/api/changes", () => Page<Change>;
        create() Post "/api/changes", ChangeInput => Change;
        get(id) Get "/api/changes/{id}", () => Change;
        update(id) Put "/api/changes/{id}", ChangeInput => Change;
        cancel(id) Post "/api/changes/{id}/cancel", () => Change;
        life(id) Get "/api/changes/{id}/life", () => ChangeLife;
        /// The change's evidence bundle, as JSON lines.
        evidence(id) Get "/api/changes/{id}/evidence", () => Raw;
    }
}

pub mod requests {
    use super::*;
    routes! {
        start_session() Post "/api/requests", StartInput => StartAnswer;
        mine() Get "/api/requests/mine", () => Page<RequestSummary>;
        to_approve() Get "/api/requests/to-approve", () => Page<RequestSummary>;
        get(id) Get "/api/requests/{id}", () => RequestDetail;
        start_signing(id) Post "/api/requests/{id}/signing", () => CeremonyStart;
        vote(id) Post "/api/requests/{id}/decisions", VoteInput => RequestSummary;
        cancel(id) Post "/api/requests/{id}/cancel", () => RequestSummary;
    }
}

pub mod passkeys {
    use super::*;
    routes! {
        mine() Get "/api/me/passkeys", () => Vec<PasskeyInfo>;
        start_registration() Post "/api/me/passkeys/registration", () => CeremonyStart;
        register() Post "/api/me/passkeys", PasskeyInput => PasskeyInfo;
        delete(id) Delete "/api/me/passkeys/{id}", () => ();
    }
}

pub mod notifications {
    use super::*;
    routes! {
        inbox() Get "/api/me/notifications", () => Inbox;
        mark_read() Post "/api/me/notifications/read", MarkRead => ();
        /// Server-sent events, one `inbox` at a time.
        stream() Get "/api/me/notifications/stream", () => Raw;
    }
}

pub mod sessions {
    use super::*;
    routes! {
        list() Get "/api/terminal-sessions", () => Page<TerminalSession>;
        running() Get "/api/terminal-sessions/running", () => Vec<TerminalSession>;
        get(id) Get "/api/terminal-sessions/{id}", () => TerminalSession;
        audit(id) Get "/api/terminal-sessions/{id}/audit", () => SessionAudit;
        /// The recording, as asciicast text.
        recording(id) Get "/api/terminal-sessions/{id}/recording", () => Raw;
        terminate(id) Post "/api/terminal-sessions/{id}/terminate", () => ();
        /// The watcher's WebSocket.
        watch(id) Get "/api/terminal-sessions/{id}/watch", () => Raw;
    }
}

pub mod trail {
    use super::*;
    routes! {
        status() Get "/api/trail", () => TrailStatus;
        /// The public key, as 64 hex digits.
        public_key() Get "/api/trail/public-key", () => Raw;
        checkpoints() Get "/api/trail/checkpoints", () => Page<Checkpoint>;
        /// The latest checkpoint, as a file to keep apart from the server.
        latest_checkpoint() Get "/api/trail/checkpoints/latest", () => Checkpoint;
        event_proof(seq) Get "/api/trail/events/{seq}", () => EventProof;
        /// Admin → Activity: the trail's events, newest first, filtered.
        activity() Get "/api/trail/activity", () => Page<ActivityEvent>;
        /// The same events as CSV.
        activity_csv() Get "/api/trail/activity/csv", () => Raw;
        consistency() Get "/api/trail/consistency", () => ConsistencyProof;
        /// The whole trail, as JSON lines.
        export() Get "/api/trail/export", () => Raw;
        verify() Post "/api/trail/verification", () => Verification;
    }
}

/// Every route of the API: its method and path.
pub fn all() -> Vec<(Method, &'static str)> {
    [
        session::ALL,
        users::ALL,
        groups::ALL,
        devices::ALL,
        command_rules::ALL,
        credentials::ALL,
        changes::ALL,
        requests::ALL,
        passkeys::ALL,
        notifications::ALL,
        sessions::ALL,
        trail::ALL,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_queries_are_encoded_into_the_path() {
        assert_eq!(changes::get("CHG 42/x").path, "/api/changes/CHG%2042%2Fx");
        assert_eq!(changes::get("CHG-42").template, "/api/changes/{id}");
        let listed = changes::list().with_query(&[("q", "a&b"), ("status", ""), ("limit", "5")]);
        assert_eq!(listed.path, "/api/changes?q=a%26b&limit=5");
        assert_eq!(trail::event_proof(7).path, "/api/trail/events/7");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn each_route_is_declared_once() {
        let routes = all();
        let mut unique = routes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), routes.len());
    }
}
