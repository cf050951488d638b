-- warren alerts: per-alert state, the notification outbox, the delivery log and silences.
-- Written and read only by server/src/store/alerts.rs. Timestamps are Unix milliseconds (*_ms).
--
-- alert_states holds one row per alert (fingerprint = hash of its sorted labels, which include the
-- cluster), so a restarted warren knows what already fired and when it last notified. A resolved
-- alert keeps its row for the "recent" list until pruned; firing again reuses the row.
-- alert_outbox holds every notification before it is sent: the exact body, its webhook-id (the
-- same on every attempt) and its retry schedule. alert_delivery_attempts is the delivery log.

CREATE TABLE alert_states (
    fingerprint      TEXT    NOT NULL PRIMARY KEY,
    cluster          TEXT    NOT NULL,
    rule             TEXT    NOT NULL,
    labels           TEXT    NOT NULL,  -- JSON object, string values
    annotations      TEXT    NOT NULL,  -- JSON object, string values
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    pending_since_ms INTEGER NOT NULL,
    firing_since_ms  INTEGER,
    last_notified_ms INTEGER,
    resolved_ms      INTEGER,
    last_eval_ms     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX alert_states_by_cluster ON alert_states (cluster, state);
CREATE INDEX alert_states_resolved ON alert_states (resolved_ms) WHERE state = 'resolved';

CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT    NOT NULL UNIQUE,
    receiver        TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    cluster         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    alerts          INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    done_ms         INTEGER
);

-- The delivery worker's only read: the oldest pending row of each receiver.
CREATE INDEX alert_outbox_pending ON alert_outbox (receiver, id) WHERE state = 'pending';
CREATE INDEX alert_outbox_done ON alert_outbox (done_ms) WHERE state <> 'pending';

-- One row per HTTP attempt.
CREATE TABLE alert_delivery_attempts (
    outbox_id   INTEGER NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    PRIMARY KEY (outbox_id, attempt)
) WITHOUT ROWID;

CREATE INDEX alert_delivery_attempts_by_time ON alert_delivery_attempts (ts_ms);

-- A silence mutes every alert of one group (matcher 'group', target = group id) or of one rule
-- (matcher 'rule', target = rule name), in one cluster or all (cluster NULL), until ends_ms.
-- Deleting a silence ends it now, so the list keeps who muted what.
CREATE TABLE alert_silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    matcher    TEXT    NOT NULL CHECK (matcher IN ('group', 'rule')),
    target     TEXT    NOT NULL,
    cluster    TEXT,
    comment    TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    ends_ms    INTEGER NOT NULL
);

CREATE INDEX alert_silences_by_end ON alert_silences (ends_ms);
