//! `/groups` and `/groups/{group}`: Burrow's verdict with warren's lag in records and seconds, a
//! sparkline per group, and on the group page the per-partition table, the diagnosis, lag trend
//! charts (1h, 24h, 7d, 30d, server-side SVG from the store), members and assignments, and the
//! offset reset form (only when the group has no members; admins only).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{frame, render, urlencode, view_of, Choice, Layout};
use crate::evaluator::GroupState;
use crate::monitor::GroupView;
use crate::store::HistoryRange;
use crate::web::charts::{self, Series};
use crate::web::format;
use crate::web::AppState;
use crate::web::WebError;

pub struct GroupRow {
    pub group: String,
    pub href: String,
    pub status: &'static str,
    pub total_lag: String,
    pub lag_seconds: String,
    pub members: usize,
    pub partitions: usize,
    pub rate: String,
    pub spark: String,
}

#[derive(Deserialize, Default)]
pub struct GroupsQuery {
    pub cluster: Option<String>,
    /// Only groups with this status (OK, WARN, ERR, NOTFOUND).
    pub status: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/groups.html")]
pub struct GroupsPage {
    pub layout: Layout,
    pub rows: Vec<GroupRow>,
    pub filter: String,
    pub filters: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "partials/groups_partial.html")]
pub struct GroupsPartial {
    pub layout: Layout,
    pub rows: Vec<GroupRow>,
    pub filter: String,
}

fn group_rows(state: &AppState, layout: &Layout, filter: &str) -> Vec<GroupRow> {
    let view = view_of(state, layout);
    let mut groups: Vec<&GroupView> =
        view.groups.values().filter(|g| filter.is_empty() || g.status.as_str() == filter).collect();
    // The worst first, then the most behind: what needs attention tops the page.
    groups.sort_by(|a, b| b.status.cmp(&a.status).then(b.total_lag.cmp(&a.total_lag)).then(a.group.cmp(&b.group)));
    groups
        .into_iter()
        .map(|g| GroupRow {
            group: g.group.clone(),
            href: format!("/groups/{}{}", urlencode(&g.group), layout.query()),
            status: g.status.as_str(),
            total_lag: format::thousands(g.total_lag),
            lag_seconds: format::lag_seconds(g.max_lag_seconds),
            members: g.members,
            partitions: g.partitions.len(),
            rate: format::rate(g.consume_rate),
            spark: charts::sparkline(&g.trend, 120, 24),
        })
        .collect()
}

fn status_filter(q: &GroupsQuery) -> String {
    q.status.as_deref().map(str::to_uppercase).filter(|s| GroupState::parse(s).is_some()).unwrap_or_default()
}

pub async fn page_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<GroupsQuery>,
) -> Result<Response, WebError> {
    let layout = frame(&state, &headers, "Consumer groups", q.cluster.as_deref())?;
    let filter = status_filter(&q);
    let cluster = if layout.embedded { String::new() } else { format!("&cluster={}", urlencode(&layout.cluster)) };
    let worst_first = GroupState::ALL.iter().rev().map(|s| s.as_str());
    let filters = std::iter::once("")
        .chain(worst_first)
        .map(|s| Choice {
            label: if s.is_empty() { "all" } else { s },
            href: format!("/groups?status={s}{cluster}"),
            current: s == filter,
        })
        .collect();
    Ok(render(&GroupsPage { rows: group_rows(&state, &layout, &filter), layout, filter, filters }))
}

pub async fn partial_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<GroupsQuery>,
) -> Result<Response, WebError> {
    let layout = frame(&state, &headers, "Consumer groups", q.cluster.as_deref())?;
    let filter = status_filter(&q);
    Ok(render(&GroupsPartial { rows: group_rows(&state, &layout, &filter), layout, filter }))
}

pub struct PartitionRow {
    pub topic: String,
    pub partition: i32,
    pub committed: String,
    pub end: String,
    pub lag: String,
    pub lag_seconds: String,
    pub status: &'static str,
    pub owner: String,
    pub client_id: String,
    pub committed_when: Option<format::When>,
}

pub struct MemberRow {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    pub assignment: String,
}

pub struct GroupData {
    pub group: String,
    pub status: &'static str,
    pub kafka_state: String,
    /// What lag is measured against, in words.
    pub lag_against: &'static str,
    pub total_lag: String,
    pub max_lag: String,
    pub lag_seconds: String,
    pub rate: String,
    pub complete: String,
    pub diagnosis: String,
    pub partitions: Vec<PartitionRow>,
    pub members: Vec<MemberRow>,
    pub range: &'static str,
    pub ranges: Vec<Choice>,
    pub lag_chart: String,
    pub seconds_chart: String,
    pub topics: Vec<String>,
}

#[derive(Template)]
#[template(path = "pages/group.html")]
pub struct GroupPage {
    pub layout: Layout,
    pub data: GroupData,
}

#[derive(Template)]
#[template(path = "partials/group_partial.html")]
pub struct GroupPartial {
    pub layout: Layout,
    pub data: GroupData,
}

#[derive(Deserialize, Default)]
pub struct GroupQuery {
    pub cluster: Option<String>,
    pub range: Option<String>,
}

async fn group_data(state: &AppState, layout: &Layout, name: &str, range: &str) -> Result<Option<GroupData>, String> {
    let view = view_of(state, layout);
    let Some(g) = view.groups.get(name) else {
        return Ok(None);
    };
    let range: HistoryRange = range.parse().map_err(|e: crate::store::ParseHistoryRangeError| e.to_string())?;
    let now = layout.now_ms;
    let points = match state.store.group_history(&view.name, name, range, now).await {
        Ok(points) => points,
        Err(e) => {
            tracing::warn!(error = %e, group = name, "cannot read the lag history");
            Vec::new()
        }
    };
    let from = now - i64::try_from(range.duration().as_millis()).unwrap_or(0);
    let lag = Series {
        name: "lag (records)",
        class: "s1",
        points: points.iter().map(|p| (p.ts_ms, p.total_lag as f64)).collect(),
    };
    let seconds = Series {
        name: "behind (seconds)",
        class: "s2",
        points: points.iter().filter_map(|p| Some((p.ts_ms, p.max_lag_seconds?))).collect(),
    };
    let mut topics: Vec<String> = g.partitions.iter().map(|p| p.topic.clone()).collect();
    topics.dedup();
    Ok(Some(GroupData {
        group: g.group.clone(),
        status: g.status.as_str(),
        kafka_state: g.kafka_state.clone(),
        lag_against: if g.against_last_stable {
            "against the last stable offset (its consumers read committed records only)"
        } else {
            "against the high watermark"
        },
        total_lag: format::thousands(g.total_lag),
        max_lag: format::thousands(g.max_lag),
        lag_seconds: format::lag_seconds(g.max_lag_seconds),
        rate: format::rate(g.consume_rate),
        complete: format!("{:.0}%", g.complete * 100.0),
        diagnosis: g.diagnosis.clone().unwrap_or_default(),
        partitions: g
            .partitions
            .iter()
            .map(|p| PartitionRow {
                topic: p.topic.clone(),
                partition: p.partition,
                committed: p.committed_offset.map_or("–".into(), format::thousands),
                end: format::thousands(p.end_offset),
                lag: format::thousands(p.lag),
                lag_seconds: format::lag_seconds(p.lag_seconds),
                status: p.status.as_str(),
                owner: p.owner.clone().unwrap_or_default(),
                client_id: p.client_id.clone().unwrap_or_default(),
                committed_when: p.commit_ts_ms.map(|ts| format::when(ts, now)),
            })
            .collect(),
        members: g
            .member_list
            .iter()
            .map(|m| MemberRow {
                member_id: m.member_id.clone(),
                client_id: m.client_id.clone(),
                host: m.host.clone(),
                assignment: m
                    .partitions
                    .iter()
                    .map(|(t, ps)| format!("{t}: {}", ps.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect(),
        range: range.as_str(),
        ranges: HistoryRange::ALL
            .into_iter()
            .map(|r| Choice {
                label: r.as_str(),
                href: format!(
                    "?range={}{}",
                    r.as_str(),
                    if layout.embedded { String::new() } else { format!("&cluster={}", urlencode(&layout.cluster)) }
                ),
                current: r == range,
            })
            .collect(),
        lag_chart: charts::line_chart(&[lag], from, now, "records"),
        seconds_chart: charts::line_chart(&[seconds], from, now, "seconds"),
        topics,
    }))
}

async fn group_response(
    state: AppState,
    headers: HeaderMap,
    name: String,
    q: GroupQuery,
    partial: bool,
) -> Result<Response, WebError> {
    let layout = frame(&state, &headers, &name, q.cluster.as_deref())?;
    let range = q.range.clone().unwrap_or_else(|| "1h".into());
    let back = format!("/groups{}", layout.query());
    let data = group_data(&state, &layout, &name, &range)
        .await
        .map_err(|e| WebError::bad_request(e).back(&back))?
        .ok_or_else(|| {
            WebError::not_found(format!("No consumer group named '{name}' is known in cluster {}.", layout.cluster))
                .back(&back)
        })?;
    Ok(if partial { render(&GroupPartial { layout, data }) } else { render(&GroupPage { layout, data }) })
}

pub async fn page_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Result<Response, WebError> {
    group_response(state, headers, name, q, false).await
}

pub async fn partial_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<GroupQuery>,
) -> Result<Response, WebError> {
    group_response(state, headers, name, q, true).await
}
