-- warren monitor history: raw samples, one row per sampler tick, and 1-minute / 1-hour rollups.
-- Written and read only by server/src/store/. Timestamps are Unix milliseconds (*_ms).
--
-- Every table is WITHOUT ROWID: the primary key is the table and the only access path, so no
-- row is stored twice. Every big table leads with (cluster, time): a tick then appends to one
-- end of each b-tree, and its rollup upserts touch only the few pages holding the open windows,
-- instead of one page per series (measured: 10x the write cost once a month of series-first
-- rows had accumulated). Retention is a range delete per cluster. One series' history is read
-- by point seeks on the (known, aligned) window starts, or on the distinct tick times for raw
-- statuses. latest_group_statuses keeps each group's newest status, keyed by group.

-- One row per partition per tick.
CREATE TABLE partition_samples (
    cluster          TEXT    NOT NULL,
    ts_ms            INTEGER NOT NULL,
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    log_start_offset INTEGER NOT NULL,
    high_watermark   INTEGER NOT NULL,
    PRIMARY KEY (cluster, ts_ms, topic, partition)
) WITHOUT ROWID;

-- One row per tick per group and partition the group has a committed offset for.
CREATE TABLE group_partition_samples (
    cluster          TEXT    NOT NULL,
    ts_ms            INTEGER NOT NULL,
    group_id         TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    partition        INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    commit_ts_ms     INTEGER NOT NULL,
    high_watermark   INTEGER NOT NULL,
    lag              INTEGER NOT NULL,
    lag_seconds      REAL,
    status           TEXT    NOT NULL CHECK (status IN ('OK', 'WARN', 'STOP', 'STALL', 'REWIND')),
    owner            TEXT,
    client_id        TEXT,
    PRIMARY KEY (cluster, ts_ms, group_id, topic, partition)
) WITHOUT ROWID;

-- One row per group per tick: the evaluator's verdict. A tick's statuses normally share one
-- ts_ms, so the 1h history seeks (ts, group) once per tick time.
CREATE TABLE group_statuses (
    cluster         TEXT    NOT NULL,
    group_id        TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('OK', 'WARN', 'ERR', 'NOTFOUND')),
    total_lag       INTEGER NOT NULL,
    max_lag         INTEGER NOT NULL,
    max_lag_seconds REAL,
    partitions      INTEGER NOT NULL,
    members         INTEGER NOT NULL,
    complete        REAL    NOT NULL,
    PRIMARY KEY (cluster, ts_ms, group_id)
) WITHOUT ROWID;

-- The newest row of group_statuses per group (a late sample does not replace a newer one);
-- pruned with the raw tables.
CREATE TABLE latest_group_statuses (
    cluster         TEXT    NOT NULL,
    group_id        TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('OK', 'WARN', 'ERR', 'NOTFOUND')),
    total_lag       INTEGER NOT NULL,
    max_lag         INTEGER NOT NULL,
    max_lag_seconds REAL,
    partitions      INTEGER NOT NULL,
    members         INTEGER NOT NULL,
    complete        REAL    NOT NULL,
    PRIMARY KEY (cluster, group_id)
) WITHOUT ROWID;

-- Group rollups over tumbling windows [window_start_ms, window_start_ms + width).
-- *_last follow the sample with the greatest ts in the window (last_ts_ms), so a late sample
-- never overwrites a newer one; worst_status orders NOTFOUND < OK < WARN < ERR.
CREATE TABLE group_rollups_1m (
    cluster              TEXT    NOT NULL,
    group_id             TEXT    NOT NULL,
    window_start_ms      INTEGER NOT NULL,
    samples              INTEGER NOT NULL,
    total_lag_max        INTEGER NOT NULL,
    total_lag_last       INTEGER NOT NULL,
    max_lag_seconds_max  REAL,
    max_lag_seconds_last REAL,
    worst_status         TEXT    NOT NULL CHECK (worst_status IN ('OK', 'WARN', 'ERR', 'NOTFOUND')),
    last_ts_ms           INTEGER NOT NULL,
    PRIMARY KEY (cluster, window_start_ms, group_id)
) WITHOUT ROWID;

CREATE TABLE group_rollups_1h (
    cluster              TEXT    NOT NULL,
    group_id             TEXT    NOT NULL,
    window_start_ms      INTEGER NOT NULL,
    samples              INTEGER NOT NULL,
    total_lag_max        INTEGER NOT NULL,
    total_lag_last       INTEGER NOT NULL,
    max_lag_seconds_max  REAL,
    max_lag_seconds_last REAL,
    worst_status         TEXT    NOT NULL CHECK (worst_status IN ('OK', 'WARN', 'ERR', 'NOTFOUND')),
    last_ts_ms           INTEGER NOT NULL,
    PRIMARY KEY (cluster, window_start_ms, group_id)
) WITHOUT ROWID;

-- Partition rollups: first/last high watermark (with their timestamps) give the produce rate.
CREATE TABLE partition_rollups_1m (
    cluster               TEXT    NOT NULL,
    topic                 TEXT    NOT NULL,
    partition             INTEGER NOT NULL,
    window_start_ms       INTEGER NOT NULL,
    samples               INTEGER NOT NULL,
    high_watermark_first  INTEGER NOT NULL,
    high_watermark_last   INTEGER NOT NULL,
    log_start_offset_last INTEGER NOT NULL,
    first_ts_ms           INTEGER NOT NULL,
    last_ts_ms            INTEGER NOT NULL,
    PRIMARY KEY (cluster, window_start_ms, topic, partition)
) WITHOUT ROWID;

CREATE TABLE partition_rollups_1h (
    cluster               TEXT    NOT NULL,
    topic                 TEXT    NOT NULL,
    partition             INTEGER NOT NULL,
    window_start_ms       INTEGER NOT NULL,
    samples               INTEGER NOT NULL,
    high_watermark_first  INTEGER NOT NULL,
    high_watermark_last   INTEGER NOT NULL,
    log_start_offset_last INTEGER NOT NULL,
    first_ts_ms           INTEGER NOT NULL,
    last_ts_ms            INTEGER NOT NULL,
    PRIMARY KEY (cluster, window_start_ms, topic, partition)
) WITHOUT ROWID;
