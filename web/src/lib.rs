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

pub mod api;
pub mod components;
pub mod format;
pub mod pages;
pub mod router;
pub mod session;

use components::status::Notice;
use router::{NavLink, Route};
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
    router::provide_location();
    view! {
        <Show when=move || auth.is_signed_in() fallback=pages::sign_in::SignIn>
            <Shell/>
        </Show>
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
    let location = router::use_location();
    let route = Memo::new(move |_| location.route());
    let page = move || match route.get() {
        Some(Route::Overview) => view! { <pages::overview::OverviewPage/> }.into_any(),
        Some(Route::Licenses) => view! { <pages::licenses::LicensesPage/> }.into_any(),
        Some(Route::License(id)) => {
            view! { <pages::license_detail::LicenseDetailPage id/> }.into_any()
        }
        Some(Route::Overrides) => view! { <pages::overrides::OverridesPage/> }.into_any(),
        Some(Route::Keys) => view! { <pages::keys::KeysPage/> }.into_any(),
        Some(Route::Audit) => view! { <pages::audit::AuditPage/> }.into_any(),
        Some(Route::Incidents) => view! { <pages::incidents::IncidentsPage/> }.into_any(),
        Some(Route::Incident(id)) => {
            view! { <pages::incidents::IncidentDetailPage id/> }.into_any()
        }
        Some(Route::Map) => view! { <pages::map::MapPage/> }.into_any(),
        Some(Route::Drills) => view! { <pages::drills::DrillsPage/> }.into_any(),
        Some(Route::Drill(id)) => view! { <pages::drills::DrillDetailPage id/> }.into_any(),
        None => view! { <Notice kind="error" text="No such page.".to_owned()/> }.into_any(),
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/">"Lifeline"</a>
            <nav aria-label="Main">
                <NavLink href="/">"Overview"</NavLink>
                <NavLink href="/incidents">"Incidents"</NavLink>
                <NavLink href="/licenses">"Licenses"</NavLink>
                <NavLink href="/overrides">"Overrides"</NavLink>
                <NavLink href="/keys">"Keys"</NavLink>
                <NavLink href="/map">"Map"</NavLink>
                <NavLink href="/drills">"Drills"</NavLink>
                <NavLink href="/audit">"Audit"</NavLink>
            </nav>
            <div class="who">
                <span data-testid="who">{who}</span>
                <button type="button" class="secondary" on:click=move |_| auth.sign_out(None)>
                    "Sign out"
                </button>
            </div>
        </header>
        <main id="main" tabindex="-1">
            {page}
        </main>
    }
}
