//! `/api/v1/drill-runs`: run a drill on this node now (the console's **Run** button,
//! operator), follow its steps, find its stored report (viewer). One run at a time per node:
//! a second request while one runs is refused (409 `drill_running`), never queued.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lifeline_api::{DRILL_NAMES, DrillRun, Role, StartDrill};

use crate::AppState;
use crate::auth::{Caller, Operator};
use crate::body::JsonBody;
use crate::drill_runs::Ended;
use crate::ids::PathId;
use crate::problem::AppError;

/// `POST /api/v1/drill-runs`: 202 with the run, which goes on in the background.
pub(crate) async fn start(
    State(state): State<AppState>,
    Operator(caller): Operator,
    JsonBody(body): JsonBody<StartDrill>,
) -> Result<(StatusCode, Json<DrillRun>), AppError> {
    let run = start_run(&state, &body.name, &caller.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// Starts drill `name` on this node for `actor` (audited `drill.started`); its report is
/// stored when it ends.
pub(crate) async fn start_run(
    state: &AppState,
    name: &str,
    actor: &str,
) -> Result<DrillRun, AppError> {
    let Some(launcher) = state.drill_runs().launcher() else {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "drills_unavailable",
            "this server cannot run drills itself (it was not started by `lifeline serve`); \
             run one with `lifeline drill run NAME --report-to URL`",
        ));
    };
    if !DRILL_NAMES.contains(&name) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_drill",
            format!("no drill {name:?}; one of: {}", DRILL_NAMES.join(", ")),
        ));
    }
    let id = crate::ids::new_id()?;
    let now = crate::clock::now();
    let run = state
        .drill_runs()
        .begin(id.clone(), name, actor, now)
        .map_err(|running| {
            AppError::new(
                StatusCode::CONFLICT,
                "drill_running",
                format!(
                    "the drill {} is running on this node (run {}, started {} s ago); one drill \
                     at a time per node: start yours when it has finished",
                    running.name,
                    running.id,
                    now.saturating_sub(running.started_at)
                ),
            )
        })?;
    let audited = async {
        let mut w = state.store().write().await?;
        let detail = serde_json::json!({ "name": name });
        w.audit(actor, "drill.started", &id, None, Some(&detail))
            .await?;
        w.commit().await
    };
    if let Err(e) = audited.await {
        state
            .drill_runs()
            .finish(&id, now, Ended::Failed("could not audit the start".into()));
        return Err(e.into());
    }
    tracing::info!(drill = name, run = %id, "drill started");
    tokio::spawn(run_to_end(
        state.clone(),
        launcher,
        id,
        name.to_owned(),
        actor.to_owned(),
    ));
    Ok(run)
}

async fn run_to_end(
    state: AppState,
    launcher: std::sync::Arc<dyn crate::DrillLauncher>,
    id: String,
    name: String,
    actor: String,
) {
    let steps = (state.clone(), id.clone());
    let drill = name.clone();
    let ran = tokio::task::spawn_blocking(move || {
        let (state, id) = steps;
        launcher.run(&drill, &mut |line| state.drill_runs().step(&id, line))
    })
    .await;
    let ended = match ran {
        Ok(Ok(report)) if report.name == name => {
            match super::drills::insert_report(&state, &actor, report).await {
                Ok(stored) => Ended::Reported {
                    passed: stored.report.passed,
                    report_id: stored.id,
                },
                Err(e) => Ended::Failed(format!(
                    "the report could not be stored: {} ({})",
                    e.detail(),
                    e.code()
                )),
            }
        }
        Ok(Ok(report)) => Ended::Failed(format!(
            "the drill reported as {:?}, not {name:?}",
            report.name
        )),
        Ok(Err(why)) => Ended::Failed(why),
        Err(e) => Ended::Failed(format!("the drill's task failed: {e}")),
    };
    match &ended {
        Ended::Reported { passed, .. } => {
            tracing::info!(drill = %name, run = %id, passed, "drill finished");
        }
        Ended::Failed(why) => {
            tracing::warn!(drill = %name, run = %id, "drill could not run: {why}")
        }
    }
    state.drill_runs().finish(&id, crate::clock::now(), ended);
}

/// `GET /api/v1/drill-runs`: this node's runs, newest first (the last 20).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DrillRun>>, AppError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.drill_runs().list()))
}

/// `GET /api/v1/drill-runs/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<DrillRun>, AppError> {
    caller.require(Role::Viewer)?;
    state
        .drill_runs()
        .get(&id)
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no drill run {id:?} on this node")))
}
