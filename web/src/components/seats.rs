//! A license's seats: who holds them, on which node, their last heartbeat and lease, how they
//! ended; a release button per held seat when the viewer may release.

use leptos::prelude::*;
use lifeline_api::{LicenseSeats, Seat, SeatEnd, SeatStatus};

use super::status::Empty;
use crate::format;

fn status_text(status: SeatStatus) -> &'static str {
    match status {
        SeatStatus::Alive => "held",
        SeatStatus::Borrowed => "borrowed",
        SeatStatus::Released => "released",
        SeatStatus::Reclaimed => "reclaimed",
    }
}

fn ended_text(seat: &Seat) -> String {
    let cause = match seat.end_cause {
        Some(SeatEnd::Released) => "released by its machine",
        Some(SeatEnd::Expired) => "reclaimed: no heartbeat for its heartbeat period",
        Some(SeatEnd::Admin) => "released by an operator",
        None => return "–".to_owned(),
    };
    match &seat.end_reason {
        Some(reason) => format!("{cause} ({reason})"),
        None => cause.to_owned(),
    }
}

/// The summary line and one row per seat. `on_release` (operators) adds a Release button to
/// each held or borrowed seat; it receives the seat.
#[component]
pub fn SeatTable(
    seats: LicenseSeats,
    now: u64,
    #[prop(optional)] on_release: Option<Callback<Seat>>,
) -> impl IntoView {
    let summary = match (seats.seats, seats.max, seats.mode) {
        (Some(sold), Some(max), Some(mode)) => {
            let mode = match mode {
                lifeline_api::SeatMode::Floating => "floating",
                lifeline_api::SeatMode::NodeLocked => "node-locked",
            };
            let overage = if max > sold {
                format!(", up to {max} with overage")
            } else {
                String::new()
            };
            format!("{} of {sold} seats in use ({mode}{overage}).", seats.in_use)
        }
        _ => "This license has no seats: machines cannot activate against it.".to_owned(),
    };
    if seats.items.is_empty() {
        return view! {
            <p data-testid="seat-summary">{summary}</p>
            <Empty text="No machine has activated a seat yet."/>
        }
        .into_any();
    }
    let rows = seats
        .items
        .into_iter()
        .map(|seat| {
            let held = matches!(seat.status, SeatStatus::Alive | SeatStatus::Borrowed);
            let lease = seat.lease_expires_at.map_or_else(
                || "–".to_owned(),
                |t| format::when(t, now),
            );
            let heartbeat = format::when(seat.last_heartbeat, now);
            let action = on_release.filter(|_| held).map(|release| {
                let s = seat.clone();
                view! {
                    <button type="button" class="danger" on:click=move |_| release.run(s.clone())>
                        "Release…"
                    </button>
                }
            });
            view! {
                <tr data-seat=seat.id.clone() data-status=status_text(seat.status)>
                    <td>{seat.name.clone()}</td>
                    <td>{status_text(seat.status)}</td>
                    <td class="mono" title="the first characters of the fingerprint's keyed hash">{seat.fingerprint_hash.clone()}</td>
                    <td class="mono">{seat.node.clone()}</td>
                    <td>{format::date_time(seat.first_seen)}</td>
                    <td>{heartbeat}</td>
                    <td>{lease}</td>
                    <td>{ended_text(&seat)}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p data-testid="seat-summary">{summary}</p>
        <div class="table-scroll" tabindex="0">
            <table class="seats">
                <thead>
                    <tr>
                        <th scope="col">"Machine"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Fingerprint"</th>
                        <th scope="col">"Node"</th>
                        <th scope="col">"Activated"</th>
                        <th scope="col">"Last heartbeat"</th>
                        <th scope="col">"Lease until"</th>
                        <th scope="col">"Ended"</th>
                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
