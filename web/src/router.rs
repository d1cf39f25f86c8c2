//! The console's router, small on purpose (a routing crate cost the `.wasm` more than the
//! rest of the navigation put together): the path names the page ([`Route::parse`], pure),
//! a click on a link to a console page changes the page without a reload (the history API),
//! and Back and Forward work. Links to anything else (the API, `/.well-known/`) are left to
//! the browser.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// A page of the console, from its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`
    Overview,
    /// `/licenses`
    Licenses,
    /// `/licenses/ID`
    License(String),
    /// `/overrides`
    Overrides,
    /// `/keys`
    Keys,
    /// `/audit`
    Audit,
    /// `/incidents`
    Incidents,
    /// `/incidents/ID`
    Incident(String),
    /// `/map`
    Map,
    /// `/drills`
    Drills,
    /// `/drills/ID`
    Drill(String),
}

impl Route {
    /// The page a path (without query or fragment) shows, or `None` for no console page.
    /// A trailing slash is ignored; an id segment is percent-decoded.
    pub fn parse(path: &str) -> Option<Self> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let id = |s: &str| Some(decode(s)).filter(|s| !s.is_empty());
        Some(match segments.as_slice() {
            [""] => Self::Overview,
            ["licenses"] => Self::Licenses,
            ["licenses", id_] => Self::License(id(id_)?),
            ["overrides"] => Self::Overrides,
            ["keys"] => Self::Keys,
            ["audit"] => Self::Audit,
            ["incidents"] => Self::Incidents,
            ["incidents", id_] => Self::Incident(id(id_)?),
            ["map"] => Self::Map,
            ["drills"] => Self::Drills,
            ["drills", id_] => Self::Drill(id(id_)?),
            _ => return None,
        })
    }
}

/// The value of `key` in a query string (`a=1&b=x+y`, with or without the leading `?`),
/// decoded; the first one when repeated.
pub fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| decode(k) == key)
        .map(|(_, v)| decode(v))
}

/// Percent-decoding (and `+` as a space); malformed escapes are kept as written.
fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    js_sys::decode_uri_component(&text)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or(text)
}

/// Where the console is: the path and the query string (with its `?`, or empty).
#[derive(Clone, Copy, Debug)]
pub struct Location {
    path: RwSignal<String>,
    query: RwSignal<String>,
}

impl Location {
    /// The current route (tracked: a page that reads it follows navigation).
    pub fn route(&self) -> Option<Route> {
        self.path.with(|p| Route::parse(p))
    }

    /// Whether the current path is `href` or below it (`/` matches only itself).
    pub fn is_at(&self, href: &str) -> bool {
        self.path.with(|p| {
            p == href || (href != "/" && p.starts_with(href) && p[href.len()..].starts_with('/'))
        })
    }

    /// A query parameter of the address the page was opened with (untracked).
    pub fn query(&self, key: &str) -> Option<String> {
        self.query.with_untracked(|q| query_param(q, key))
    }

    fn set(&self, path: String, query: String) {
        // The query first: a page mounted by the path change reads it.
        self.query.set(query);
        self.path.set(path);
    }
}

fn window_location() -> (String, String) {
    let location = window().location();
    (
        location.pathname().unwrap_or_else(|_| "/".to_owned()),
        location.search().unwrap_or_default(),
    )
}

/// Creates the [`Location`] for the pages (as context) and follows the browser: Back and
/// Forward, and clicks on links to console pages.
pub fn provide_location() -> Location {
    let (path, query) = window_location();
    let location = Location {
        path: RwSignal::new(path),
        query: RwSignal::new(query),
    };
    provide_context(location);
    let popstate = window_event_listener(ev::popstate, move |_| {
        let (path, query) = window_location();
        location.set(path, query);
    });
    let click = window_event_listener(ev::click, move |event| follow_link(location, &event));
    on_cleanup(move || {
        popstate.remove();
        click.remove();
    });
    location
}

/// The [`Location`] provided by [`provide_location`].
pub fn use_location() -> Location {
    expect_context::<Location>()
}

/// A plain left click on a same-origin link to a console page: change the page in place.
fn follow_link(location: Location, event: &web_sys::MouseEvent) {
    let plain = event.button() == 0
        && !(event.default_prevented()
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key());
    if !plain {
        return;
    }
    let Some(link) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("a[href]").ok().flatten())
    else {
        return;
    };
    if link.has_attribute("target") || link.has_attribute("download") {
        return;
    }
    let href = link.get_attribute("href").unwrap_or_default();
    if !href.starts_with('/') || href.starts_with("//") {
        return;
    }
    let (path, query) = match href.find('?') {
        Some(at) => (&href[..at], &href[at..]),
        None => (href.as_str(), ""),
    };
    if path.contains('#') || Route::parse(path).is_none() {
        return;
    }
    event.prevent_default();
    if let Ok(history) = window().history() {
        // Without history (never in a browser) the page still changes; Back just skips it.
        let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&href));
    }
    location.set(path.to_owned(), query.to_owned());
    window().scroll_to_with_x_and_y(0.0, 0.0);
}

/// A navigation link, marked `aria-current="page"` while its page (or one below it) shows.
#[component]
pub fn NavLink(href: &'static str, children: Children) -> impl IntoView {
    let location = use_location();
    let current = move || location.is_at(href).then_some("page");
    view! { <a href=href aria-current=current>{children()}</a> }
}
