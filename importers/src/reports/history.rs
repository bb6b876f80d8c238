//! A report's status history completed: framed by "received" and its current status, with the
//! times the source did not give derived from it.

use predio_engine::{Report, Status, StatusChange};

/// Makes the history and the summary times agree: a history the source gave is sorted and
/// framed by "received" and the current status; times the source did not give
/// (acknowledged, closed, reopened) are derived from it. A reopening is a change from a closed
/// status to an open one.
pub(crate) fn complete_history(r: &mut Report) {
    let mut h = std::mem::take(&mut r.history);
    h.retain(|c| c.label != "received");
    // The source's own "opened" entry at the creation time stands for "received".
    if !h
        .iter()
        .any(|c| c.status == Status::Open && c.at == r.created_at)
    {
        h.push(StatusChange {
            at: r.created_at,
            status: Status::Open,
            label: "received".into(),
        });
    }
    if let Some(a) = r.acknowledged_at {
        if !h
            .iter()
            .any(|c| c.status == Status::InProgress && c.at == a)
        {
            h.push(StatusChange {
                at: a,
                status: Status::InProgress,
                label: "acknowledged".into(),
            });
        }
    }
    if let Some(c) = r.closed_at {
        if !h.iter().any(|x| x.status.is_closed() && x.at == c) {
            h.push(StatusChange {
                at: c,
                status: r.status,
                label: r.status_label.clone(),
            });
        }
    }
    // "received" first among equal times, then source order.
    h.sort_by_key(|c| (c.at, c.label != "received"));
    if r.acknowledged_at.is_none() {
        r.acknowledged_at = h
            .iter()
            .skip(1)
            .find(|c| c.status != Status::Open)
            .map(|c| c.at);
    }
    let mut reopened = None;
    let mut last_closed = None;
    for w in h.windows(2) {
        if w[0].status.is_closed() && !w[1].status.is_closed() {
            reopened = Some(w[1].at);
        }
        if w[1].status.is_closed() {
            last_closed = Some(w[1].at);
        }
    }
    r.reopened_at = reopened;
    if r.status.is_closed() && r.closed_at.is_none() {
        r.closed_at = last_closed;
    }
    r.history = h;
}
