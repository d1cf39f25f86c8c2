//! The Lifeline admin console: a client-side Leptos app, built by Trunk into `dist/console`
//! and served by `lifeline serve --console`.
//!
//! It answers an on-call engineer's first questions during a licensing incident: what is
//! broken, for whom, since when, and what can be done now. It reads and acts through the
//! server's HTTP API ([`api`], typed by `lifeline-api`) and verifies license tokens in the
//! browser with `lifeline-core`, so it shows exactly the verdict an edge verifier would.
//!
//! ```text
//! main.rs ─▶ App (lib.rs) ─▶ session gate ─▶ Router ─▶ pages/*  ──▶ components/*
//!                                 │                      │
//!                                 └── session.rs         └── api.rs (gloo-net) ─▶ server
//! ```
//!
//! # What this crate does not do
//! - It keeps no state of its own beyond the API token in session storage: every page reads
//!   the server afresh, so two consoles never disagree for long.
//! - It decides nothing about licenses: the server and `lifeline-core` do.

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

pub mod api;
pub mod components;
pub mod format;
pub mod pages;
pub mod session;

use components::status::Notice;
use session::Auth;

/// Mounts the console on the page's `<body>`.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The whole console: signed out, the sign-in page; signed in, the navigation and pages.
#[component]
pub fn App() -> impl IntoView {
    let auth = Auth::restore();
    provide_context(auth);
    view! {
        <Router>
            <Show when=move || auth.is_signed_in() fallback=pages::sign_in::SignIn>
                <Shell/>
            </Show>
        </Router>
    }
}

/// Navigation, the signed-in identity and the routed pages.
#[component]
fn Shell() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let who = move || {
        auth.session
            .get()
            .map(|s| format!("{} ({})", s.info.name, s.info.role.as_str()))
            .unwrap_or_default()
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/">"Lifeline"</a>
            <nav aria-label="Main">
                <A href="/" exact=true>"Overview"</A>
                <A href="/incidents">"Incidents"</A>
                <A href="/licenses">"Licenses"</A>
                <A href="/overrides">"Overrides"</A>
                <A href="/keys">"Keys"</A>
                <A href="/map">"Map"</A>
                <A href="/drills">"Drills"</A>
                <A href="/audit">"Audit"</A>
            </nav>
            <div class="who">
                <span data-testid="who">{who}</span>
                <button type="button" class="secondary" on:click=move |_| auth.sign_out(None)>
                    "Sign out"
                </button>
            </div>
        </header>
        <main id="main" tabindex="-1">
            <Routes fallback=|| view! { <Notice kind="error" text="No such page.".to_owned()/> }>
                <Route path=path!("/") view=pages::overview::OverviewPage/>
                <Route path=path!("/licenses") view=pages::licenses::LicensesPage/>
                <Route path=path!("/licenses/:id") view=pages::license_detail::LicenseDetailPage/>
                <Route path=path!("/overrides") view=pages::overrides::OverridesPage/>
                <Route path=path!("/keys") view=pages::keys::KeysPage/>
                <Route path=path!("/audit") view=pages::audit::AuditPage/>
                <Route path=path!("/incidents") view=pages::incidents::IncidentsPage/>
                <Route path=path!("/incidents/:id") view=pages::incidents::IncidentDetailPage/>
                <Route path=path!("/map") view=pages::map::MapPage/>
                <Route path=path!("/drills") view=pages::drills::DrillsPage/>
                <Route path=path!("/drills/:id") view=pages::drills::DrillDetailPage/>
            </Routes>
        </main>
    }
}
