//! Who is signed in. The API token lives in the tab's session storage (gone when the tab
//! closes; cleared by "Sign out" and whenever the server stops accepting it).

use leptos::prelude::*;
use lifeline_api::{Role, SessionInfo};
use serde::{Deserialize, Serialize};

/// The session-storage key holding the signed-in [`Session`] as JSON.
pub const STORAGE_KEY: &str = "lifeline.console.session";

/// A signed-in API token and what the server said about it at sign-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The bearer secret.
    pub token: String,
    /// The token's name and role (shown, and used to hide actions the role cannot take;
    /// the server enforces roles regardless).
    pub info: SessionInfo,
}

/// The console's sign-in state, shared through context.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    /// The current session, if signed in.
    pub session: RwSignal<Option<Session>>,
    /// Why the user was signed out, shown on the sign-in page.
    pub notice: RwSignal<Option<String>>,
}

impl Auth {
    /// Signed out, with nothing stored.
    pub fn signed_out() -> Self {
        Self {
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    /// The session kept in this tab's session storage, if any.
    pub fn restore() -> Self {
        let auth = Self::signed_out();
        let stored = storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|json| serde_json::from_str::<Session>(&json).ok());
        auth.session.set(stored);
        auth
    }

    /// Whether someone is signed in (reactive).
    pub fn is_signed_in(&self) -> bool {
        self.session.with(Option::is_some)
    }

    /// The bearer token, read without tracking.
    pub fn token(&self) -> Option<String> {
        self.session
            .with_untracked(|s| s.as_ref().map(|s| s.token.clone()))
    }

    /// Whether the signed-in role includes `role` (reactive).
    pub fn can(&self, role: Role) -> bool {
        self.session
            .with(|s| s.as_ref().is_some_and(|s| s.info.role >= role))
    }

    /// Keeps `session` in this tab and signs it in.
    pub fn sign_in(&self, session: Session) {
        if let (Some(store), Ok(json)) = (storage(), serde_json::to_string(&session)) {
            let _ = store.set_item(STORAGE_KEY, &json);
        }
        self.notice.set(None);
        self.session.set(Some(session));
    }

    /// Forgets the token; `notice` says why (e.g. the session expired).
    pub fn sign_out(&self, notice: Option<&str>) {
        if let Some(store) = storage() {
            let _ = store.remove_item(STORAGE_KEY);
        }
        self.notice.set(notice.map(str::to_owned));
        self.session.set(None);
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
